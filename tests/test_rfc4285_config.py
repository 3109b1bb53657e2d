"""RFC 4285 configuration (mip6fast/security/mn_ha.py, keys.py; docs/SECURITY.md "RFC 4285"): the
credential's ranges (Mobility SPI, key length, NAI, replay window), keys kept out of every repr, stats
and message, ``[[mn_ha]]`` tables in the key file (same permission rules as ESP keys), one mechanism per
home address, and the daemons: RFC 4285 counts as protection, ``bindings`` names the credential."""
from __future__ import annotations

import copy
import json
import logging
import os
import pickle
from fractions import Fraction
from pathlib import Path

import pytest
from helpers import rfc4285 as rfc
from helpers.daemon import ha_text, mn_text
from helpers.home_agent import COA, HA, HOME, S, frame_in, make_ha

from mip6fast.config import parse_config
from mip6fast.daemon import Daemon, DaemonError, describe_bindings
from mip6fast.security import (
    KeyFileError,
    MnHaCredential,
    MnHaCredentials,
    load_key_file,
    load_protection,
    load_security_policy,
)
from mip6fast.wire import (
    AlternateCareOfAddress,
    BindingUpdate,
    MobileNodeIdentifier,
    MobilityMessageReplayProtection,
    Packet,
)

KEY = "00112233445566778899aabbccddeeff01234567"          # 20 bytes
KEY2 = "ffeeddccbbaa99887766554433221100fedcba98"
ESP_KEY = "0123456789abcdef0123456789abcdef01234567"
ESP_KEY2 = "76543210fedcba9876543210fedcba9876543210"
NAI = "mn1@example.net"


def mn_ha_table(home="2001:db8:1::9", nai=NAI, spi="0x2001", key=KEY, extra=""):
    return (f'[[mn_ha]]\nhome_address = "{home}"\nnai = "{nai}"\nspi = {spi}\nkey = "{key}"\n{extra}\n')


def association(home="2001:db8:1::8"):
    return (f'[[association]]\nhome_address = "{home}"\nhome_agent = "2001:db8:1::1"\nalgorithm = "aes-128-gcm"\n'
            f'mn_to_ha = {{ spi = 0x1001, encryption_key = "{ESP_KEY}" }}\n'
            f'ha_to_mn = {{ spi = 0x1002, encryption_key = "{ESP_KEY2}" }}\n')


def key_file(tmp_path, text, mode=0o600):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


# ---------------------------------------------------------------- the credential

def test_credential_fields_and_defaults():
    c = MnHaCredential("2001:db8:1::9", NAI, 0x2001, bytes.fromhex(KEY))
    assert str(c.home_address) == "2001:db8:1::9" and c.nai == NAI and c.spi == 0x2001
    assert c.replay_window == 7                             # RFC 4285 §6's default
    assert c.identifier == "rfc4285 spi 0x00002001 (nai mn1@example.net)"
    assert MnHaCredential("2001:db8:1::9", NAI, 256, bytes(19) + b"\x01", replay_window=3.5).replay_window == \
        Fraction(7, 2)


@pytest.mark.parametrize("kw, field", [
    ({"spi": 255}, "spi"), ({"spi": 0}, "spi"), ({"spi": 1 << 32}, "spi"), ({"spi": True}, "spi"),
    ({"key": bytes(range(1, 20))}, "key"), ({"key": bytes(20)}, "key"), ({"key": "00" * 20}, "key"),
    ({"replay_window": 3}, "replay_window"), ({"replay_window": 2}, "replay_window"),
    ({"replay_window": 301}, "replay_window"), ({"replay_window": float("nan")}, "replay_window"),
    ({"replay_window": True}, "replay_window"),
    ({"home": "fe80::9"}, "home_address"), ({"home": "ff02::1"}, "home_address"), ({"home": "x"}, "home_address"),
    ({"nai": "mn1"}, "nai"), ({"nai": "@example.net"}, "nai"), ({"nai": "mn1@"}, "nai"),
    ({"nai": "mn 1@example.net"}, "nai"), ({"nai": "mn1@exa_mple.net"}, "nai"), ({"nai": "mn1@-a.net"}, "nai"),
    ({"nai": "a@b@example.net"}, "nai"), ({"nai": "x" * 250 + "@a.b"}, "nai"), ({"nai": b"mn1@a.b"}, "nai"),
])
def test_credential_refuses_out_of_range_fields(kw, field):
    args = {"home": "2001:db8:1::9", "nai": NAI, "spi": 0x2001, "key": bytes(range(1, 21))}
    window = {"replay_window": kw.pop("replay_window")} if "replay_window" in kw else {}
    args.update(kw)
    with pytest.raises(ValueError, match=field) as err:
        MnHaCredential(args["home"], args["nai"], args["spi"], args["key"], **window)
    assert "0102030405" not in str(err.value)


@pytest.mark.parametrize("nai", ["mn1@example.net", "a\\@b@example.net", "x@localhost", "user.name+tag@sub.a-b.org",
                                 "mn@ex4mple.net"])
def test_nai_forms_accepted(nai):
    assert MnHaCredential("2001:db8:1::9", nai, 0x2001, bytes.fromhex(KEY)).nai == nai


def test_the_key_never_shows():
    c = MnHaCredential("2001:db8:1::9", NAI, 0x2001, bytes.fromhex(KEY))
    for text in (repr(c), str(c), json.dumps(c.stats()), repr(MnHaCredentials([c])),
                 json.dumps(MnHaCredentials([c]).stats())):
        assert KEY not in text and KEY[:10] not in text
    with pytest.raises(TypeError):
        pickle.dumps(c)
    with pytest.raises(TypeError):
        copy.copy(c)
    with pytest.raises(TypeError):
        copy.deepcopy(c)


def test_credentials_refuse_a_home_address_spi_or_key_twice():
    one = MnHaCredential("2001:db8:1::9", NAI, 0x2001, bytes.fromhex(KEY))
    creds = MnHaCredentials([one])
    for other, what in ((MnHaCredential("2001:db8:1::9", NAI, 0x2002, bytes.fromhex(KEY2)), "already"),
                        (MnHaCredential("2001:db8:1::8", NAI, 0x2001, bytes.fromhex(KEY2)), "SPI"),
                        (MnHaCredential("2001:db8:1::8", NAI, 0x2002, bytes.fromhex(KEY)), "same key")):
        with pytest.raises(ValueError, match=what):
            creds.add(other)
    assert len(creds) == 1 and creds.get("2001:db8:1::9") is one and creds.get("2001:db8:1::8") is None


# ---------------------------------------------------------------- the key file

@pytest.mark.parametrize("role", ["ha", "mn"])
def test_key_file_with_mn_ha_entries_loads_for_both_roles(tmp_path, role):
    path = key_file(tmp_path, mn_ha_table() + mn_ha_table("2001:db8:1::7", "mn2@example.net", "0x2002", KEY2,
                                                          "replay_window = 10") + association())
    spd, mn_ha = load_protection(path, role)
    assert sorted(str(a) for a in mn_ha.home_addresses()) == ["2001:db8:1::7", "2001:db8:1::9"]
    assert mn_ha.get("2001:db8:1::7").replay_window == 10 and mn_ha.get("2001:db8:1::9").spi == 0x2001
    assert [str(a) for a in spd.home_addresses()] == ["2001:db8:1::8"] and len(spd) == 2
    # The ESP-only loaders see the SAs (and check the whole file).
    assert len(load_key_file(path, role)) == 2 and len(load_security_policy(path, role)) == 2


@pytest.mark.parametrize("text, message", [
    (mn_ha_table(spi="255"), "spi"),
    (mn_ha_table(spi='"0x2001"'), "spi must be an integer"),
    (mn_ha_table(key=KEY[:38]), "at least 20"),
    (mn_ha_table(key="zz" * 20), "not hexadecimal"),
    (mn_ha_table(key="00" * 20), "all-zero"),
    (mn_ha_table(nai="mn1"), "nai"),
    (mn_ha_table(extra="replay_window = 3"), "replay_window"),
    (mn_ha_table(extra='home_agent = "2001:db8:1::1"'), "unknown fields ['home_agent']"),
    ('[[mn_ha]]\nhome_address = "2001:db8:1::9"\nnai = "mn1@example.net"\nspi = 0x2001\n', "'key' is missing"),
    ('[[mn_ha]]\nhome_address = "nope"\nnai = "a@b.c"\nspi = 0x2001\nkey = "aa"\n', "IPv6 address"),
    ("mn_ha = 3\n", "array of tables"),
    (mn_ha_table() + mn_ha_table("2001:db8:1::7", key=KEY2), "used twice"),
    (mn_ha_table() + mn_ha_table("2001:db8:1::7", spi="0x2002"), "same key"),
    (mn_ha_table() + mn_ha_table(spi="0x2002", key=KEY2), "already has"),
    (mn_ha_table("2001:db8:1::8") + association("2001:db8:1::8"), "by ESP or by RFC 4285, not both"),
])
def test_bad_mn_ha_entries_are_clear_errors_without_keys(tmp_path, text, message):
    path = key_file(tmp_path, text)
    with pytest.raises(KeyFileError) as err:
        load_protection(path, "ha")
    msg = str(err.value)
    assert message in msg and str(path) in msg
    assert KEY not in msg and KEY2 not in msg and KEY[:10] not in msg


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_mn_ha_key_file_open_to_others_is_refused(tmp_path, mode):
    path = key_file(tmp_path, mn_ha_table(), mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_protection(path, "mn")


# ---------------------------------------------------------------- the daemons

@pytest.mark.parametrize("text, role", [(ha_text, "ha"), (mn_text, "mn")])
def test_rfc4285_alone_is_protection_enough_to_start(tmp_path, caplog, text, role):
    path = key_file(tmp_path, mn_ha_table())
    daemon = Daemon(parse_config(text(tmp_path, security=f'[security]\nkey_file = "{path}"'), role))
    with caplog.at_level(logging.INFO, logger="mip6fast"), pytest.raises(DaemonError) as err:
        daemon.start()                      # goes past the protection check, fails on the interface
    assert "no protection configured" not in str(err.value)
    assert daemon.mn_ha is not None and len(daemon.mn_ha) == 1 and len(daemon.spd) == 0
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "protected by RFC 4285" in logged and "rfc4285 spi 0x00002001 (nai mn1@example.net)" in logged
    assert "protected by ESP" not in logged and KEY not in logged


def test_daemon_refuses_a_key_file_protecting_a_home_address_twice(tmp_path):
    path = key_file(tmp_path, association("2001:db8:1::9") + mn_ha_table())
    daemon = Daemon(parse_config(ha_text(tmp_path, security=f'[security]\nkey_file = "{path}"'), "ha"))
    with pytest.raises(DaemonError) as err:
        daemon.start()
    msg = str(err.value)
    assert msg.startswith("security.key_file:") and "not both" in msg and KEY not in msg
    assert not (tmp_path / "ha").exists()


def test_bindings_and_stats_name_the_credential_never_the_key():
    key = bytes.fromhex(KEY)
    creds = MnHaCredentials([MnHaCredential(HOME, NAI, 0x2001, key)])
    ha = make_ha(mn_ha=creds)
    bu = rfc.sign(BindingUpdate(1, 400, ack=True, home=True, options=(
        AlternateCareOfAddress(COA), MobileNodeIdentifier(NAI.encode()),
        MobilityMessageReplayProtection(rfc.ntp(3 * S)))), key, 0x2001, COA, HOME)
    ha.receive(3 * S, "eth1", frame_in(Packet(src=COA, dst=HA, home_address=HOME, payload=bu)))
    ha.tick(4 * S)
    (row,) = describe_bindings(ha, 4 * S)
    assert row["home_address"] == str(HOME) and row["protected_by"] == "rfc4285 spi 0x00002001 (nai mn1@example.net)"
    assert KEY not in json.dumps(row) and KEY not in json.dumps(creds.stats())


def test_the_example_key_file_loads_with_its_rfc4285_entry(tmp_path):
    """mip6fast/examples/keys.toml, its commented [[mn_ha]] table switched on: one ESP home address, one RFC 4285."""
    text = (Path(__file__).resolve().parent.parent / "mip6fast" / "examples" / "keys.toml").read_text()
    head, commented = text.split("# [[mn_ha]]\n")
    enabled = head + "[[mn_ha]]\n" + "".join(line.removeprefix("# ") for line in commented.splitlines(True))
    spd, mn_ha = load_protection(key_file(tmp_path, enabled), "mn")
    assert [str(a) for a in spd.home_addresses()] == ["2001:db8:1::9"]
    assert [c.identifier for c in mn_ha] == ["rfc4285 spi 0x00002001 (nai mn2@example.net)"]
