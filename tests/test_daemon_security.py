"""Secure by default (issue 11): a home agent or mobile node daemon starts only with ESP keys for its
home registrations ([security] key_file) or with unauthenticated_registrations = true said in so many
words (then a WARNING); key file refusals are clear errors naming the file; ESP sequence numbers resume
across restarts from the state directory; `bindings` names the SA (never a key)."""
import json
import logging
import os
import random
from ipaddress import IPv6Address

import pytest
from helpers.daemon import ha_text, mn_text
from helpers.home_agent import HA, HOME, S, bu_packet, frame_in, make_ha

from mip6fast.config import parse_config
from mip6fast.daemon import SEQUENCE_RESERVE, Daemon, DaemonError, describe_bindings
from mip6fast.roles.home_agent import BindingAclEntry
from mip6fast.roles.protection import manual_pair
from mip6fast.security import SecurityPolicyDatabase, load_security_policy

KEY_HEX = "00112233445566778899aabbccddeeff01234567"
KEY_HEX2 = "ffeeddccbbaa99887766554433221100fedcba98"


def key_file(tmp_path, mode=0o600):
    path = tmp_path / "keys.toml"
    path.write_text(f'[[association]]\nhome_address = "2001:db8:1::9"\nhome_agent = "2001:db8:1::1"\n'
                    f'algorithm = "aes-128-gcm"\nmn_to_ha = {{ spi = 0x1001, encryption_key = "{KEY_HEX}" }}\n'
                    f'ha_to_mn = {{ spi = 0x1002, encryption_key = "{KEY_HEX2}" }}\n')
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("text, section", [(ha_text, "home_agent"), (mn_text, "mobile_node")])
def test_no_protection_refuses_to_start(tmp_path, text, section):
    daemon = Daemon(parse_config(text(tmp_path), "ha" if section == "home_agent" else "mn"))
    with pytest.raises(DaemonError) as err:
        daemon.start()
    msg = str(err.value)
    assert "no protection configured" in msg and "[security] key_file" in msg
    assert f"[{section}] unauthenticated_registrations = true" in msg
    assert not (tmp_path / "ha").exists() and not (tmp_path / "mn").exists()   # nothing touched


def test_unauthenticated_registrations_start_with_a_warning(tmp_path, caplog):
    daemon = Daemon(parse_config(ha_text(tmp_path, "unauthenticated_registrations = true"), "ha"))
    with caplog.at_level(logging.WARNING, logger="mip6fast"), pytest.raises(DaemonError) as err:
        daemon.start()                      # goes on, and fails later: the interface does not exist
    assert "no protection configured" not in str(err.value)
    (warning,) = [r for r in caplog.records if "UNAUTHENTICATED" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "take over any home address" in warning.getMessage()


def cn_text(tmp_path, extra=""):
    return f"""
[daemon]
control_socket = "{tmp_path}/cn.sock"
lock_dir = "{tmp_path}/locks"
[interfaces.mip6-none0]
addresses = ["2001:db8:c::1/64"]
[correspondent]
{extra}"""


def test_a_correspondent_uses_return_routability_unless_told_otherwise(tmp_path, caplog):
    """Issue 12: return routability by default; unauthenticated_bindings = true starts with a WARNING."""
    config = parse_config(cn_text(tmp_path), "cn")
    assert not config.role_config.unauthenticated_bindings and config.role_config.unauthenticated_check is None
    with caplog.at_level(logging.INFO, logger="mip6fast"), pytest.raises(DaemonError):
        Daemon(config).start()              # fails later: the interface does not exist
    assert any("authorised by return routability" in r.getMessage() for r in caplog.records)
    assert not any("UNAUTHENTICATED" in r.getMessage() for r in caplog.records)
    caplog.clear()
    config = parse_config(cn_text(tmp_path, "unauthenticated_bindings = true"), "cn")
    with caplog.at_level(logging.WARNING, logger="mip6fast"), pytest.raises(DaemonError):
        Daemon(config).start()
    (warning,) = [r for r in caplog.records if "UNAUTHENTICATED BINDINGS" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "[correspondent] unauthenticated_bindings" in warning.getMessage()


def test_a_mobile_node_without_return_routability_says_so(tmp_path, caplog):
    text = mn_text(tmp_path, "unauthenticated_registrations = true\n"
                   "route_optimization = { default = \"always\", unauthenticated_bindings = true }")
    with caplog.at_level(logging.WARNING, logger="mip6fast"), pytest.raises(DaemonError):
        Daemon(parse_config(text, "mn")).start()
    assert any("UNAUTHENTICATED BINDINGS" in r.getMessage() and "route_optimization" in r.getMessage()
               for r in caplog.records)


def test_the_correspondent_daemon_takes_its_secrets_from_the_kernel(tmp_path):
    node = Daemon(parse_config(cn_text(tmp_path), "cn"), seed=1)._build_node(
        {"mip6-none0": bytes.fromhex("020000000001")})
    assert node.return_routability._random is os.urandom


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_readable_by_others_is_a_clear_error(tmp_path, mode):
    path = key_file(tmp_path, mode)
    daemon = Daemon(parse_config(ha_text(tmp_path, security=f'[security]\nkey_file = "{path}"'), "ha"))
    with pytest.raises(DaemonError) as err:
        daemon.start()
    msg = str(err.value)
    assert msg.startswith("security.key_file:") and str(path) in msg and "chmod 600" in msg
    assert KEY_HEX not in msg and KEY_HEX2 not in msg


def test_key_file_loaded_for_the_role(tmp_path, caplog):
    path = key_file(tmp_path)
    daemon = Daemon(parse_config(ha_text(tmp_path, security=f'[security]\nkey_file = "{path}"'), "ha"))
    with caplog.at_level(logging.INFO, logger="mip6fast"), pytest.raises(DaemonError):
        daemon.start()                      # the interface does not exist
    assert daemon.spd is not None and len(daemon.spd) == 2 and daemon.spd.has_policy("2001:db8:1::9")
    assert any("protected by ESP" in r.getMessage() for r in caplog.records)
    assert all(KEY_HEX not in r.getMessage() for r in caplog.records)


def test_sequences_resume_after_a_restart(tmp_path):
    path = key_file(tmp_path)
    config = parse_config(mn_text(tmp_path, security=f'[security]\nkey_file = "{path}"'), "mn")
    first = Daemon(config)
    first.state_dir = str(tmp_path)
    first.spd = load_security_policy(path, "mn")
    first._resume_sequences()
    (out,) = [sa for sa in first.spd if sa.direction.value == "outbound"]
    assert out.sequence == 0
    stored = json.loads((tmp_path / "esp-sequences.json").read_text())
    assert stored == {"0x00001001": SEQUENCE_RESERVE}
    # A restart (or a crash) resumes from the stored mark: the peer's window never sees a number twice.
    second = Daemon(config)
    second.state_dir = str(tmp_path)
    second.spd = load_security_policy(path, "mn")
    second._resume_sequences()
    (out2,) = [sa for sa in second.spd if sa.direction.value == "outbound"]
    assert out2.sequence == SEQUENCE_RESERVE
    assert json.loads((tmp_path / "esp-sequences.json").read_text()) == {"0x00001001": 2 * SEQUENCE_RESERVE}
    assert second._sequences_due() is None


def test_bindings_name_the_sa_never_the_key():
    rng = random.Random(1)
    mn_sas, ha_sas = manual_pair(HOME, HA, rng, spi=0x2000)
    mn_spd = SecurityPolicyDatabase(mn_sas)
    ha = make_ha(spd=SecurityPolicyDatabase(ha_sas))
    ha.receive(3 * S, "eth1", frame_in(mn_spd.protect(bu_packet().to_bytes(), HOME)))
    ha.tick(4 * S)
    (row,) = describe_bindings(ha, 4 * S)
    assert row["home_address"] == str(HOME) and row["protected_by"] == "esp spi 0x00002000 (aes-128-gcm)"
    assert "key" not in json.dumps(row).lower()


ACL = '''binding_acl = [{ home = "2001:db8:1::9/128", care_of = ["2001:db8:3::/64"] },
               { home = "2001:db8:1::/64" }]
'''


def test_binding_acl_from_the_configuration(tmp_path):
    config = parse_config(ha_text(tmp_path, "unauthenticated_registrations = true\n" + ACL), "ha")
    acl = config.role_config.binding_acl
    assert acl == (BindingAclEntry("2001:db8:1::9/128", ("2001:db8:3::/64",)), BindingAclEntry("2001:db8:1::/64"))
    with pytest.raises(Exception) as err:
        parse_config(ha_text(tmp_path, 'binding_acl = [{ home = "not an address" }]'), "ha")
    assert "binding_acl" in str(err.value)


def test_sighup_reloads_the_binding_acl_into_the_running_home_agent(tmp_path):
    path = tmp_path / "ha.toml"
    path.write_text(ha_text(tmp_path, "unauthenticated_registrations = true"))
    daemon = Daemon(parse_config(path.read_text(), "ha"), config_path=str(path))
    daemon.node = make_ha()
    assert daemon.node.registrar.authorized(HOME, IPv6Address("2001:db8:5::1"))
    path.write_text(ha_text(tmp_path, "unauthenticated_registrations = true\n" + ACL))
    applied = daemon.reload()
    assert applied and all(k.startswith("home_agent.binding_acl") for k in applied)
    assert daemon.node.registrar.acl == daemon.config.role_config.binding_acl
    assert daemon.node.registrar.authorized(HOME, IPv6Address("2001:db8:3::1"))
    assert not daemon.node.registrar.authorized(HOME, IPv6Address("2001:db8:5::1"))
    assert not daemon.node.registrar.authorized(IPv6Address("2001:db8:7::1"), IPv6Address("2001:db8:3::1"))
