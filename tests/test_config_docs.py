"""docs/CONFIG.md is generated from the configuration classes (mip6fast/config_docs.py) and kept in step;
every key a file may hold is in it, with a meaning."""
import dataclasses
import re
import typing
from pathlib import Path

import pytest

from mip6fast import config_docs
from mip6fast.cli import main
from mip6fast.config import config_keys, load_config
from mip6fast.config_docs import MEANINGS, SECTIONS, key_docs, render_markdown

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "CONFIG.md"
EXAMPLES = ROOT / "mip6fast" / "examples"


def documented() -> dict:
    return {d.key: d for _, prefix, cls, only in SECTIONS for d in key_docs(cls, prefix, only)}


def test_config_md_is_generated_from_the_classes():
    assert DOC.read_text() == render_markdown(), (
        "docs/CONFIG.md differs from the configuration classes: regenerate it with "
        "`python -m mip6fast check --reference > docs/CONFIG.md`")


def test_the_command_prints_it(capsys):
    assert main(["check", "--reference"]) == 0
    assert capsys.readouterr().out == render_markdown()


def test_every_key_has_a_type_a_default_and_a_meaning():
    docs = documented()
    assert len(docs) > 80
    for key, d in docs.items():
        assert d.type and d.default and d.meaning, key
        assert not d.meaning.startswith("Range"), f"{key}: only a range; give it a meaning in MEANINGS"


def test_every_override_names_a_documented_field():
    fields = {(cls.__name__, f.name) for _, _, top, _ in SECTIONS for cls in {top, *_nested(top)}
              for f in dataclasses.fields(cls)}
    assert set(MEANINGS) <= fields, set(MEANINGS) - fields


def _nested(cls):
    def inner(tp):
        for a in typing.get_args(tp):
            yield from inner(a)
        if dataclasses.is_dataclass(tp):
            yield tp
    hints = config_docs._hints(cls)
    for f in dataclasses.fields(cls):
        for n in inner(hints[f.name]):
            yield n
            yield from _nested(n)


@pytest.mark.parametrize("role", ["ha", "mn", "cn", "router"])
def test_every_key_of_the_examples_is_documented(role):
    config = load_config(EXAMPLES / f"{role}.toml", role)
    docs = documented()
    for key in config_keys(config):
        generic = re.sub(r"\[\d+\]", "[]", key)
        generic = re.sub(r"^(interfaces|advertise)\.[^.]+", r"\1.NAME", generic)
        generic = re.sub(r"^(mobile_node\.route_optimization\.peers)\..*", r"\1", generic)
        # An empty list or a section without keys ([router]) is flattened to its own name.
        assert generic in docs or generic in {p for _, p, _, _ in SECTIONS} | {"routes"}, key
