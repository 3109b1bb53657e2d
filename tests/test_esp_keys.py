"""Manual keying from a key file (mip6fast.security.keys, docs/SECURITY.md "Key files"): the format,
the mirrored view of the home agent and the mobile node, the refusal of files open to group or others
or that are not regular files, and keys kept out of every error message."""
from __future__ import annotations

import os
import stat

import pytest
from esp_fixtures import COA, HA, HOME, OTHER_HOME, ba, bu, tunnelled_hoti

from mip6fast.security import (
    Algorithm,
    Direction,
    KeyFileError,
    Mode,
    load_key_file,
    load_security_policy,
    read_key_file,
)

GCM_MN_HA = "00112233445566778899aabbccddeeff01020304"
GCM_HA_MN = "ffeeddccbbaa99887766554433221100a0b0c0d0"
CBC_ENC_1 = "1f1e1d1c1b1a19181716151413121110" * 2
CBC_AUTH_1 = "a1" * 32
CBC_ENC_2 = "2f2e2d2c2b2a29282726252423222120" * 2
CBC_AUTH_2 = "b2" * 32
NULL_AUTH_1 = "c3" * 32
NULL_AUTH_2 = "d4" * 32
ALL_KEYS = [GCM_MN_HA, GCM_HA_MN, CBC_ENC_1, CBC_AUTH_1, CBC_ENC_2, CBC_AUTH_2, NULL_AUTH_1, NULL_AUTH_2]

GOOD = f"""
# keys for two mobile nodes
[[association]]
home_address = "{HOME}"
home_agent = "{HA}"
algorithm = "aes-128-gcm"
mn_to_ha = {{ spi = 0x1001, encryption_key = "{GCM_MN_HA}" }}
ha_to_mn = {{ spi = 0x1002, encryption_key = "{GCM_HA_MN}" }}

[[association]]
home_address = "{HOME}"
home_agent = "{HA}"
algorithm = "aes-256-cbc-hmac-sha256"
mode = "tunnel"
replay_window = 1024
extended_sequence_numbers = true
mn_to_ha = {{ spi = 0x1003, encryption_key = "{CBC_ENC_1}", authentication_key = "{CBC_AUTH_1}" }}
ha_to_mn = {{ spi = 0x1004, encryption_key = "{CBC_ENC_2}", authentication_key = "{CBC_AUTH_2}" }}

[[association]]
home_address = "{OTHER_HOME}"
home_agent = "{HA}"
algorithm = "null-hmac-sha256"
[association.mn_to_ha]
spi = 0x2001
authentication_key = "{NULL_AUTH_1}"
[association.ha_to_mn]
spi = 0x2002
authentication_key = "{NULL_AUTH_2}"
"""


def write(tmp_path, text, mode=0o600, name="keys.toml"):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_load_for_both_ends(tmp_path):
    path = write(tmp_path, GOOD)
    ha_sas = load_key_file(path, "ha")
    mn_sas = load_key_file(str(path), "mn")
    assert [(sa.spi, sa.direction) for sa in ha_sas] == [
        (0x1001, Direction.INBOUND), (0x1002, Direction.OUTBOUND), (0x1003, Direction.INBOUND),
        (0x1004, Direction.OUTBOUND), (0x2001, Direction.INBOUND), (0x2002, Direction.OUTBOUND)]
    assert [sa.direction for sa in mn_sas] == [Direction.OUTBOUND, Direction.INBOUND] * 3
    tunnel = ha_sas[2]
    assert (tunnel.mode, tunnel.algorithm, tunnel.replay_window, tunnel.esn) == (
        Mode.TUNNEL, Algorithm.AES_256_CBC_HMAC_SHA256, 1024, True)
    assert str(ha_sas[0].source) == HOME and str(ha_sas[1].destination) == HOME
    assert ha_sas[0].home_is_source and not ha_sas[1].home_is_source


def test_policies_loaded_from_one_file_talk_to_each_other(tmp_path):
    path = write(tmp_path, GOOD)
    ha, mn = load_security_policy(path, "ha"), load_security_policy(path, "mn")
    assert ha.unprotect(mn.protect(bu(), HOME)).packet == bu()
    assert mn.unprotect(ha.protect(ba(), HOME)).packet == ba()
    assert ha.unprotect(mn.protect(tunnelled_hoti(), HOME, Mode.TUNNEL)).inner == tunnelled_hoti()[40:]
    assert ha.unprotect(mn.protect(bu(OTHER_HOME), OTHER_HOME)).sa.spi == 0x2001
    assert ha.has_policy(OTHER_HOME) and not ha.has_policy(COA)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o610, 0o666], ids=oct)
def test_group_or_other_access_refused(tmp_path, mode):
    path = write(tmp_path, GOOD, mode)
    with pytest.raises(KeyFileError) as info:
        load_key_file(path, "ha")
    message = str(info.value)
    assert str(path) in message and f"{stat.S_IMODE(os.stat(path).st_mode):04o}" in message
    assert "chmod 600" in message


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700], ids=oct)
def test_owner_only_accepted(tmp_path, mode):
    assert len(load_key_file(write(tmp_path, GOOD, mode), "mn")) == 6


def test_not_a_regular_file_refused(tmp_path):
    with pytest.raises(KeyFileError, match="not a regular file"):
        read_key_file(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyFileError, match=f"{fifo} is not a regular file"):
        read_key_file(fifo)                      # and it does not hang waiting for a writer
    with pytest.raises(KeyFileError, match="not a regular file"):
        read_key_file("/dev/null")
    with pytest.raises(KeyFileError, match="cannot open"):
        read_key_file(tmp_path / "missing.toml")


def test_symlink_to_a_private_file_is_judged_by_its_target(tmp_path):
    target = write(tmp_path, GOOD)
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    assert len(load_key_file(link, "ha")) == 6
    os.chmod(target, 0o644)
    with pytest.raises(KeyFileError, match="0644"):
        load_key_file(link, "ha")


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_file_owned_by_someone_else_refused(tmp_path):
    path = write(tmp_path, GOOD)
    os.chown(path, 4242, -1)
    with pytest.raises(KeyFileError, match="owned by uid 4242"):
        load_key_file(path, "ha")


BROKEN = {
    "toml syntax": GOOD.replace('algorithm = "aes-128-gcm"', 'algorithm = aes-128-gcm'),
    "unterminated string after a key": GOOD + f'\n[[association]]\nhome_address = "{GCM_MN_HA}',
    "short key": GOOD.replace(GCM_MN_HA, GCM_MN_HA[:-2]),
    "not hex": GOOD.replace(GCM_MN_HA, GCM_MN_HA[:-1] + "g"),
    "all-zero key": GOOD.replace(GCM_HA_MN, "00" * 20),
    "missing auth key": GOOD.replace(f', authentication_key = "{CBC_AUTH_1}"', ""),
    "same key twice": GOOD.replace(GCM_HA_MN, GCM_MN_HA),
    "spi twice": GOOD.replace("spi = 0x2001", "spi = 0x1001"),
    "spi reserved": GOOD.replace("spi = 0x2001", "spi = 0xff"),
    "unknown field": GOOD.replace('algorithm = "null-hmac-sha256"',
                                  'algorithm = "null-hmac-sha256"\nkey = 1'),
    "unknown direction field": GOOD.replace("spi = 0x2002", f'spi = 0x2002\nkey = "{NULL_AUTH_1}"'),
    "unknown algorithm": GOOD.replace("aes-128-gcm", "des-cbc"),
    "bad address": GOOD.replace(f'home_address = "{OTHER_HOME}"', 'home_address = "10.0.0.1"'),
    "key as a number": GOOD.replace(f'"{NULL_AUTH_2}"', "12345"),
    "bad window": GOOD.replace("replay_window = 1024", "replay_window = 8"),
    "not an array": 'association = "x"\n',
    "stray table": GOOD + '\n[secrets]\nk = "1"\n',
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_name_the_place_never_the_key(tmp_path, name):
    path = write(tmp_path, BROKEN[name])
    with pytest.raises(KeyFileError) as info:
        load_security_policy(path, "ha")
    texts = [str(info.value), repr(info.value)]
    cause = info.value.__cause__ or info.value.__context__
    assert cause is None or info.value.__suppress_context__
    assert str(path) in texts[0]
    for text in texts:
        for key in ALL_KEYS:
            assert key not in text and key[:16] not in text


def test_role_checked(tmp_path):
    with pytest.raises(ValueError, match="role"):
        load_key_file(write(tmp_path, GOOD), "cn")
