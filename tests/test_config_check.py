"""``mip6fast check CONFIG`` / ``--check``: every mistake of a configuration at once, with its key, its line
and the nearest known key for a misspelt one; the key file opened and parsed but never printed; exit
0/1/2. No interface is touched and no root is needed (these tests run as any user)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mip6fast.cli import main
from mip6fast.config import ConfigError, key_line, parse_config, validate_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "mip6fast" / "examples"

BROKEN = """\
[daemon]
log_levle = "info"

[interfaces.eth0]
addresses = ["2001:db8:1::1/64", "nonsense/64"]
mtu = 576

[home_agent]
interface = "eth00"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
max_lifetime = "long"

[securty]
key_file = "/nope"
"""
# (key, line, words) of every mistake of BROKEN, in the file's order.
BROKEN_MISTAKES = [
    ("daemon.log_levle", 2, "did you mean 'log_level'?"),
    ("interfaces.eth0.addresses[1]", 5, "not an IPv6 address"),
    ("interfaces.eth0.mtu", 6, "1280"),
    ("home_agent.interface", 9, "did you mean 'eth0'?"),
    ("home_agent.max_lifetime", 12, "expected an integer"),
    ("securty", 14, "did you mean 'security'?"),
]

GOOD_HA = """\
[interfaces.eth0]
addresses = ["2001:db8:1::1/64"]

[home_agent]
interface = "eth0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"

[security]
key_file = "{key_file}"
"""


def run(*argv, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "mip6fast", *argv], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def test_every_mistake_is_collected_and_load_config_lists_them_all():
    config, errors = validate_config(BROKEN, "ha")
    assert config is None
    assert {e.key for e in errors} == {k for k, _, _ in BROKEN_MISTAKES}
    with pytest.raises(ConfigError) as info:
        parse_config(BROKEN, "ha")
    exc = info.value
    assert len(exc.errors) == len(BROKEN_MISTAKES)
    assert str(exc).startswith(f"{exc.errors[0].key}: ")
    assert all(str(e) in str(exc) for e in exc.errors)          # one line each
    assert len(str(exc).splitlines()) == len(BROKEN_MISTAKES)


def test_a_single_mistake_is_raised_as_before():
    text = BROKEN.split("[home_agent]")[0].replace("log_levle", "log_level").replace(', "nonsense/64"', "")
    text = text.replace("mtu = 576", "mtu = 1500") + '[home_agent]\ninterface = "eth0"\naddress = "2001:db8:1::1"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "ha")
    assert info.value.errors == [info.value] and info.value.key == "home_agent.home_prefixes"


@pytest.mark.parametrize("key, line", [
    ("daemon", 1), ("daemon.log_levle", 2), ("interfaces.eth0.addresses[1]", 5), ("interfaces.eth0", 4),
    ("home_agent.home_prefixes", 10), ("home_agent.missing_key", 8), ("nowhere", None), ("", None)])
def test_key_line(key, line):
    assert key_line(BROKEN, key) == line


def test_key_line_of_arrays_of_tables_and_quoted_keys():
    text = ('[[routes]]\nprefix = "::/0"\n\n[[routes]]\nprefix = "2001:db8::/32"\n"via" = "fe80::1"\n'
            '[advertise."eth0"]\nprefixes = [\n  { prefix = "2001:db8::" },\n]\n')
    assert key_line(text, "routes[1].via") == 6
    assert key_line(text, "routes[0].interface") == 1
    assert key_line(text, "advertise.eth0.prefixes[0].prefix_length") == 8


def test_check_reports_every_mistake_with_file_line_and_key(tmp_path):
    path = tmp_path / "ha.toml"
    path.write_text(BROKEN)
    out = run("check", str(path))
    assert out.returncode == 1, out
    lines = out.stderr.splitlines()
    for (key, line, words), text in zip(BROKEN_MISTAKES, lines):
        assert text.startswith(f"{path}:{line}: {key}: ") and words in text, text
    assert lines[-1].endswith(f"{len(BROKEN_MISTAKES)} errors (role ha)")
    answer = json.loads(run("check", "--json", str(path)).stdout)
    assert answer["ok"] is False and answer["role"] == "ha"
    assert [(e["key"], e["line"]) for e in answer["errors"]] == [(k, n) for k, n, _ in BROKEN_MISTAKES]


@pytest.mark.parametrize("name", ["cn", "router"])
def test_the_examples_without_key_files_pass(name, capsys):
    assert main(["check", str(EXAMPLES / f"{name}.toml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{EXAMPLES / name}.toml: ok") and f"{name}: interfaces" in out


def key_file(tmp_path, mode):
    path = tmp_path / "keys.toml"
    path.write_text((EXAMPLES / "keys.toml").read_text())
    os.chmod(path, mode)
    return path


def test_the_key_file_is_loaded_and_checked_but_never_printed(tmp_path, capsys):
    keys = key_file(tmp_path, 0o600)
    config = tmp_path / "ha.toml"
    config.write_text(GOOD_HA.format(key_file=keys))
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2 ESP security associations, 0 RFC 4285 credentials" in out      # one each way
    assert "00112233" not in out and "ffeeddcc" not in out
    os.chmod(keys, 0o644)                            # readable by others: the daemon refuses it
    assert main(["check", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config}:10: security.key_file: key file {keys} has mode 0644" in err
    assert "00112233" not in err
    keys.write_text("[[association]]\nhome_address = 12\n")
    os.chmod(keys, 0o600)
    assert main(["check", str(config)]) == 1
    assert "security.key_file" in capsys.readouterr().err


def test_no_protection_is_an_error_unless_unauthenticated_is_said(tmp_path, capsys):
    config = tmp_path / "ha.toml"
    text = GOOD_HA.split("[security]")[0]
    config.write_text(text)
    assert main(["check", str(config)]) == 1
    assert "security.key_file: missing: no protection" in capsys.readouterr().err
    config.write_text(text.replace('address = "2001:db8:1::1"\n',
                                   'address = "2001:db8:1::1"\nunauthenticated_registrations = true\n'))
    assert main(["check", str(config)]) == 0
    assert "UNAUTHENTICATED" in capsys.readouterr().out


def test_usage_mistakes_exit_2_and_unreadable_files_1(tmp_path, capsys):
    both = tmp_path / "both.toml"
    both.write_text('[interfaces.eth0]\n[home_agent]\n[correspondent]\n')
    assert main(["check", str(both)]) == 2
    assert "give --role" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["check", str(both), "--role", "pilot"])
    assert info.value.code == 2
    assert main(["check", str(tmp_path / "absent.toml")]) == 1
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[interfaces.eth0]\nmtu = \n')
    assert main(["check", str(bad), "--role", "cn"]) == 1
    assert f"{bad}:2: not valid TOML" in capsys.readouterr().err


def test_daemon_check_flag_validates_and_exits_without_root(tmp_path):
    path = tmp_path / "cn.toml"
    path.write_text((EXAMPLES / "cn.toml").read_text())
    out = run("cn", "--config", str(path), "--check")
    assert out.returncode == 0 and "ok" in out.stdout, out
    path.write_text(BROKEN)
    out = run("ha", "--config", str(path), "--check")
    assert out.returncode == 1 and "log_levle" in out.stderr


ETCD = """\
[interfaces.eth0]
addresses = ["2001:db8:1::1/64"]

[home_agent]
interface = "eth0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
store = "etcd"
unauthenticated_registrations = true

[etcd]
endpoints = ["http://127.0.0.1:2379"]
source_address = "{source}"
"""


@pytest.mark.parametrize("source, ok, words", [
    ("127.0.0.2", True, "connections to etcd leave from 127.0.0.2 (management address)"),
    ("192.0.2.77", False, "etcd.source_address: 192.0.2.77: not an address of this machine"),
    ("::1", False, "etcd.source_address: IPv6 address, but endpoint http://127.0.0.1:2379 is IPv4"),
    ("2001:db8:1::1", False, "is configured on the wire interface eth0: the management address must be apart"),
    ("ff02::1", False, "etcd.source_address: source_address must be a unicast address of this machine"),
    ("eth9", False, "etcd.source_address: source_address must be an IPv4 or IPv6 address"),
])
def test_the_management_address_of_the_etcd_connections_is_checked(tmp_path, capsys, source, ok, words):
    """[etcd] source_address: an address of this machine (a socket can be bound to it: checked without
    root), of the endpoints' family, not one of the wire interfaces'."""
    config = tmp_path / "ha.toml"
    config.write_text(ETCD.format(source=source))
    assert main(["check", str(config)]) == (0 if ok else 1)
    captured = capsys.readouterr()
    assert words in (captured.out if ok else captured.err)
