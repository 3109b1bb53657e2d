"""Daemon configuration files (mip6fast.config): the examples load, every mistake is a ConfigError that
names the key, durations take units, and no time field of a role config is left without a unit."""
import dataclasses
import typing
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

from mip6fast import config as cfg
from mip6fast.config import ConfigError, load_config, parse_config
from mip6fast.roles.correspondent import CorrespondentConfig
from mip6fast.roles.home_agent import HomeAgentConfig
from mip6fast.roles.mobile_node import HomeAddressConfig, MobileNodeConfig
from mip6fast.roles.route_optimization import RouteOptimizationConfig
from mip6fast.roles.router import AdvertisingConfig
from mip6fast.roles.source_policy import SourcePolicy

EXAMPLES = Path(__file__).resolve().parent.parent / "mip6fast" / "examples"
S = 1_000_000_000

HA = """
[interfaces.eth0]
addresses = ["2001:db8:1::1/64"]
[home_agent]
interface = "eth0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
"""


@pytest.mark.parametrize("role", ["ha", "mn", "cn", "router"])
def test_the_examples_load(role):
    from mip6fast.config import RouterConfig
    c = load_config(EXAMPLES / f"{role}.toml", role)
    assert c.role == role
    assert isinstance(c.role_config, {"ha": HomeAgentConfig, "mn": MobileNodeConfig,
                                      "cn": CorrespondentConfig, "router": RouterConfig}[role])


def test_home_agent_example_in_detail():
    c = load_config(EXAMPLES / "ha.toml", "ha")
    ha = c.role_config
    assert ha.home_prefixes == (IPv6Network("2001:db8:1::/64"),) and ha.address == IPv6Address("2001:db8:1::1")
    assert ha.max_lifetime == 420 and ha.refresh_lead == 30
    assert c.routes[0].prefix == IPv6Network("::/0") and c.routes[0].via == IPv6Address("2001:db8:ff::2")
    adv = c.advertise["eth0"]
    assert adv.max_interval == 3 * S and adv.prefixes[0].router_address and adv.home_agent.lifetime == 1800
    assert c.daemon.control_socket == "/run/mip6fast/ha.sock"


def test_mobile_node_durations_and_homes():
    c = load_config(EXAMPLES / "mn.toml", "mn")
    mn = c.role_config
    assert (mn.first_registration_timeout, mn.initial_bindack_timeout, mn.max_bindack_timeout) == \
        (3 * S // 2, S, 32 * S)
    assert mn.homes == (HomeAddressConfig("2001:db8:1::9", "2001:db8:1::1"),)
    assert c.daemon.tun == "mip6tun0"


@pytest.mark.parametrize("value, ns", [("1.5", 1_500_000_000), ("2", 2 * S), ('"300ms"', 300_000_000),
                                       ('"250000us"', 250_000_000), ('"1m"', 60 * S), ('"7 s"', 7 * S)])
def test_duration_forms(value, ns):
    text = HA + f"[advertise.eth0]\nmax_interval = {value}\n"
    assert parse_config(text, "ha").advertise["eth0"].max_interval == ns


def error(text, role="ha"):
    with pytest.raises(ConfigError) as info:
        parse_config(text, role)
    return info.value


@pytest.mark.parametrize("text, key, words", [
    (HA + "color = 1\n", "home_agent.color", "unknown key"),
    (HA.replace('address = "2001:db8:1::1"', 'address = "2001:db8:1::zz"'), "home_agent.address",
     "not an IPv6 address"),
    (HA + "max_lifetime = \"long\"\n", "home_agent.max_lifetime", "expected an integer"),
    (HA + "virtual_home_link = 1\n", "home_agent.virtual_home_link", "true or false"),
    (HA + "preference = 40000\n", "home_agent.preference", "signed 16-bit"),
    (HA.replace('home_prefixes = ["2001:db8:1::/64"]\n', ""), "home_agent.home_prefixes", "missing"),
    (HA.replace('["2001:db8:1::/64"]', '["2001:db8:1::/64", "2001:db8:2::1/64"]'),
     "home_agent.home_prefixes[1]", "prefix"),
    (HA.replace('interface = "eth0"', 'interface = "eth7"'), "home_agent.interface", "not one of the [interfaces]"),
    (HA + "[[routes]]\nprefix = \"::/0\"\ninterface = \"eth9\"\n", "routes[0].interface", "eth9"),
    (HA + "[advertise.eth0]\nmax_interval = \"soon\"\n", "advertise.eth0.max_interval", "duration"),
    (HA + "[advertise.eth0]\nmax_interval = -1\n", "advertise.eth0.max_interval", "negative"),
    (HA + "[daemon]\nlog_level = \"chatty\"\n", "daemon.log_level", "debug, info"),
    (HA + "[daemon]\npcap = \"\"\n", "daemon.pcap", "must not be empty"),
    (HA + "[mobile_node]\ninterface = \"eth0\"\n", "mobile_node", "another daemon"),
    (HA.replace('addresses = ["2001:db8:1::1/64"]', 'addresses = ["2001:db8:1::1/64"]\nmtu = 576'),
     "interfaces.eth0.mtu", "1280"),
    ("[home_agent\n", "", "not valid TOML"),
    ("[interfaces.eth0]\n", "home_agent", "missing"),
    ('[home_agent]\ninterface = "eth0"\n', "interfaces", "at least one"),
])
def test_mistakes_name_their_key(text, key, words):
    exc = error(text)
    assert exc.key == key, exc
    assert words in str(exc)
    assert str(exc).startswith(f"{key}: ") if key else True


def test_mobile_node_mistakes():
    base = ('[interfaces.wlan0]\n[mobile_node]\ninterface = "wlan0"\n'
            'homes = [{ address = "2001:db8:1::9", home_agent = "2001:db8:1::1" }]\n')
    assert parse_config(base, "mn").role_config.lifetime == 600
    exc = error(base.replace('address = "2001:db8:1::9"', 'address = "fe80::9"'), "mn")
    assert exc.key.startswith("mobile_node.homes[0]") and "home address" in str(exc)
    exc = error(base + "initial_bindack_timeout = \"1 fortnight\"\n", "mn")
    assert exc.key == "mobile_node.initial_bindack_timeout"
    exc = error(base.replace('home_agent = "2001:db8:1::1" ', 'home_agent = "2001:db8:1::1", colour = 3 '), "mn")
    assert exc.key == "mobile_node.homes[0].colour"


def test_code_is_not_configuration():
    exc = error('[interfaces.eth0]\n[correspondent]\naccept_binding_update = "yes"\n', "cn")
    assert exc.key == "correspondent.accept_binding_update" and "unknown key" in str(exc)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml", "ha")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(bad, "ha")
    with pytest.raises(ConfigError, match="unknown role"):
        parse_config(HA, "relay")


def test_daemon_io_is_packet_or_ring():
    base = '[interfaces.eth0]\n[correspondent]\n'
    assert parse_config(base, "cn").daemon.io == "packet"
    assert parse_config('[daemon]\nio = "ring"\n' + base, "cn").daemon.io == "ring"
    exc = error('[daemon]\nio = "netmap"\n' + base, "cn")
    assert exc.key == "daemon.io" and "packet" in str(exc)


def test_daemon_workers_are_the_home_agents_on_rings():
    """[daemon] workers (issue 17): 1..32, N > 1 only with io = "ring" (each worker joins a PACKET_FANOUT
    group) and only for the home agent."""
    assert parse_config(HA, "ha").daemon.workers == 1
    assert parse_config('[daemon]\nio = "ring"\nworkers = 2\n' + HA, "ha").daemon.workers == 2
    exc = error('[daemon]\nworkers = 2\n' + HA, "ha")
    assert exc.key == "daemon.workers" and "io = \"ring\"" in str(exc)
    for bad in (0, 33):
        assert "workers must be in 1..32" in str(error(f'[daemon]\nio = "ring"\nworkers = {bad}\n' + HA, "ha"))
    exc = error('[daemon]\nio = "ring"\nworkers = 2\n[interfaces.eth0]\n[correspondent]\n', "cn")
    assert exc.key == "daemon.workers" and "home agent" in str(exc)


def test_router_config_needs_no_section_of_its_own():
    text = """
[interfaces.up0]
addresses = ["2001:db8:ff::a/64"]
[interfaces.down0]
addresses = ["2001:db8:a::1/64"]
[[routes]]
prefix = "::/0"
interface = "up0"
via = "2001:db8:ff::1"
[advertise.down0]
max_interval = 0.5
prefixes = [{ prefix = "2001:db8:a::", prefix_length = 64 }]
"""
    c = parse_config(text, "router")
    assert c.role == "router" and set(c.interfaces) == {"up0", "down0"} and set(c.advertise) == {"down0"}
    exc = error(text + "[router]\nhops = 3\n", "router")
    assert exc.key == "router.hops" and "unknown key" in str(exc)
    exc = error(text + "[home_agent]\n", "router")
    assert exc.key == "home_agent" and "belongs to another daemon" in str(exc)


TIME_WORDS = ("timeout", "interval", "lifetime", "lead", "delay", "hold", "_ns")


@pytest.mark.parametrize("cls", [HomeAgentConfig, MobileNodeConfig, CorrespondentConfig, AdvertisingConfig,
                                 HomeAddressConfig, RouteOptimizationConfig, SourcePolicy])
def test_every_time_field_has_a_unit(cls):
    """A field about time must be classified: nanoseconds in the role (durations in the file) or
    seconds in both. A new field that is neither fails here rather than taking the wrong unit."""
    hints = cfg._hints(cls)
    for f in dataclasses.fields(cls):
        if int in (hints[f.name], *typing.get_args(hints[f.name])) and any(w in f.name for w in TIME_WORDS) \
                and f.name != "valid_until":
            assert f.name in cfg.DURATION_NS_FIELDS | cfg.SECONDS_FIELDS, f"{cls.__name__}.{f.name}"


def test_type_hints_fallback_for_python_3_9(monkeypatch):
    """Python 3.9 cannot evaluate ``X | None`` annotations: the fallback splits them by hand."""
    def refuse(*a, **k):
        raise TypeError("unsupported operand type(s) for |")
    monkeypatch.setattr(typing, "get_type_hints", refuse)
    c = parse_config(HA + "refresh_lead = 20\n", "ha")
    assert c.role_config.refresh_lead == 20 and c.daemon.pcap is None
    assert parse_config(HA + "[daemon]\npcap = \"x.pcap\"\n", "ha").daemon.pcap == "x.pcap"


def test_mobile_node_policies_from_the_file():
    text = (EXAMPLES / "mn.toml").read_text() + """
[mobile_node.route_optimization]
default = 10
peers = { "2001:db8:c::5" = "always", "2001:db8:c::6" = "never" }
hold_down_ns = "30s"

[mobile_node.source_policy]
ports = [53, 123]
"""
    mn = parse_config(text, "mn").role_config
    ro = mn.route_optimization
    assert ro.default == 10 and ro.hold_down_ns == 30 * S
    assert ro.threshold(IPv6Address("2001:db8:c::5")) == 0 and ro.threshold(IPv6Address("2001:db8:c::6")) is None
    assert mn.source_policy.ports == frozenset({53, 123}) and mn.source_policy.short_lived(17, 123)
    exc = error(text.replace('"always"', '"sometimes"'), "mn")
    assert exc.key.startswith("mobile_node.route_optimization") and "sometimes" in str(exc)
    exc = error(text.replace('"2001:db8:c::6"', '"not-an-address"'), "mn")
    assert exc.key == "mobile_node.route_optimization.peers.not-an-address"


# ---------------------------------------------------------------- issue 10 item 11: every field validated
# Through the daemon's own path: ``mip6fast ha|mn|cn --config FILE`` (mip6fast.cli.main) loads the file
# and must print one line naming the key and exit 2, never a traceback. The interface names do not
# exist on the machine, so a value that slipped through would end in "no such interface" (exit 1), not
# in a claimed interface.

HA_CLI = """
[daemon]
control_socket = "{tmp}/ha.sock"
state_dir = "{tmp}/state"
lock_dir = "{tmp}/locks"
[interfaces.mip6-none0]
addresses = ["2001:db8:1::1/64"]
[home_agent]
interface = "mip6-none0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
{role}
[advertise.mip6-none0]
prefixes = [{{ prefix = "2001:db8:1::1", router_address = true {prefix} }}]
home_agent = {{ {hai} }}
{advertise}
"""
MN_CLI = """
[daemon]
control_socket = "{tmp}/mn.sock"
state_dir = "{tmp}/state"
lock_dir = "{tmp}/locks"
[interfaces.mip6-none0]
[mobile_node]
interface = "mip6-none0"
homes = [{{ address = "2001:db8:1::9", home_agent = "2001:db8:1::1" {home} }}]
{role}
[mobile_node.route_optimization]
{ro}
[mobile_node.source_policy]
{sp}
"""
CN_CLI = """
[daemon]
control_socket = "{tmp}/cn.sock"
state_dir = "{tmp}/state"
lock_dir = "{tmp}/locks"
[interfaces.mip6-none0]
addresses = ["2001:db8:c::1/64"]
[correspondent]
{role}
"""
TEMPLATES = {"ha": HA_CLI, "mn": MN_CLI, "cn": CN_CLI}
SLOTS = ("role", "prefix", "hai", "advertise", "home", "ro", "sp")
INLINE = {"prefix", "home"}          # slots inside an inline table after other keys: ", key = value"


def cli_config(tmp_path, role, slot, key, value):
    line = f"{key} = {value}"
    parts = dict.fromkeys(SLOTS, "")
    parts[slot] = f", {line}" if slot in INLINE else line
    path = tmp_path / f"{role}.toml"
    path.write_text(TEMPLATES[role].format(tmp=tmp_path, **parts))
    return path


def run_cli(role, path, capsys):
    from mip6fast.cli import main
    status = main([role, "--config", str(path)])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("role, slot, key, value, culprit, words", [
    ("ha", "role", "tunnel_mtu", "1000", "home_agent.tunnel_mtu", "1320 .. 65535"),
    ("ha", "role", "tunnel_mtu", "70000", "home_agent.tunnel_mtu", "1320 .. 65535"),
    ("ha", "role", "tunnel_mtu", "-1", "home_agent.tunnel_mtu", "out of range"),
    ("ha", "role", "max_bindings", "0", "home_agent.max_bindings", "out of range 1 .."),
    ("ha", "role", "max_bindings", "-3", "home_agent.max_bindings", "out of range 1 .."),
    ("ha", "role", "refresh_lead", "420", "home_agent.refresh_lead", "less than max_lifetime (420 s)"),
    ("ha", "role", "refresh_lead", '"10m"', "home_agent.refresh_lead", "less than max_lifetime"),
    ("ha", "role", "max_lifetime", '"1500ms"', "home_agent.max_lifetime", "whole number of seconds"),
    ("ha", "role", "max_lifetime", "inf", "home_agent.max_lifetime", "expected an integer"),
    ("ha", "advertise", "max_interval", "inf", "advertise.mip6-none0.max_interval", "finite"),
    ("ha", "advertise", "max_interval", "nan", "advertise.mip6-none0.max_interval", "finite"),
    ("ha", "advertise", "max_interval", "1e30", "advertise.mip6-none0.max_interval", "longest duration"),
    ("ha", "advertise", "min_interval", "-inf", "advertise.mip6-none0.min_interval", "finite"),
    ("ha", "advertise", "min_delay_between_ras", '"9999999999999999999999999d"',
     "advertise.mip6-none0.min_delay_between_ras", "longest duration"),
    ("ha", "advertise", "router_lifetime", "70000", "advertise.mip6-none0.router_lifetime", "9000"),
    ("ha", "advertise", "cur_hop_limit", "256", "advertise.mip6-none0.cur_hop_limit", "0 .. 255"),
    ("ha", "advertise", "reachable_time", "-1", "advertise.mip6-none0.reachable_time", "out of range"),
    ("ha", "advertise", "retrans_timer", "4294967296", "advertise.mip6-none0.retrans_timer", "out of range"),
    ("ha", "prefix", "preferred_lifetime", "3000000", "advertise.mip6-none0.prefixes[0].preferred_lifetime",
     "more than valid_lifetime"),
    ("ha", "prefix", "valid_lifetime", "0", "advertise.mip6-none0.prefixes[0].preferred_lifetime",
     "more than valid_lifetime"),
    ("ha", "hai", "lifetime", "0", "advertise.mip6-none0.home_agent.lifetime", "must not be sent"),
    ("mn", "role", "initial_bindack_timeout", "nan", "mobile_node.initial_bindack_timeout", "finite"),
    ("mn", "role", "max_bindack_timeout", "inf", "mobile_node.max_bindack_timeout", "finite"),
    ("mn", "role", "lifetime", '"2.5s"', "mobile_node.lifetime", "whole number of seconds"),
    ("mn", "ro", "hold_down_ns", "inf", "mobile_node.route_optimization.hold_down_ns", "finite"),
    ("mn", "ro", "lifetime", '"1h"', "mobile_node.route_optimization.lifetime", "1..420"),
    ("cn", "role", "cache_capacity", "0", "correspondent.cache_capacity", "out of range 1 .."),
    ("cn", "role", "cache_capacity", "-1", "correspondent.cache_capacity", "out of range 1 .."),
    ("cn", "role", "cache_capacity", "100000000000", "correspondent.cache_capacity", "out of range"),
    ("cn", "role", "cache_seed", "-1", "correspondent.cache_seed", "0 .. 2^128-1"),
    ("cn", "role", "max_bindings", "0", "correspondent.max_bindings", "out of range 1 .."),
    ("cn", "role", "max_bindings", "805306369", "correspondent.max_bindings", "MIP6_BCACHE_MAX_ENTRIES"),
    ("cn", "role", "refresh_lead_ns", "inf", "correspondent.refresh_lead_ns", "finite"),
    ("cn", "role", "max_binding_lifetime", "-4", "correspondent.max_binding_lifetime", "out of range"),
    ("cn", "role", "max_binding_lifetime", "0", "correspondent.max_binding_lifetime", "lifetime of 0"),
    ("cn", "role", "max_binding_lifetime", '"1 fortnight"', "correspondent.max_binding_lifetime", "30s"),
])
def test_daemon_command_names_the_bad_key(tmp_path, capsys, role, slot, key, value, culprit, words):
    status, err = run_cli(role, cli_config(tmp_path, role, slot, key, value), capsys)
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f": {culprit}: " in err and words in err, err


@pytest.mark.parametrize("role, slot, key, value, expected", [
    ("ha", "role", "max_lifetime", '"5m"', 300),
    ("ha", "role", "refresh_lead", '"30s"', 30),
    ("ha", "prefix", "valid_lifetime", '"30d"', 30 * 86400),
    ("ha", "prefix", "preferred_lifetime", '"2h"', 7200),
    ("ha", "hai", "lifetime", '"1800s"', 1800),
    ("ha", "advertise", "router_lifetime", '"30m"', 1800),
    ("mn", "role", "lifetime", '"10m"', 600),
    ("mn", "ro", "lifetime", '"7m"', 420),
    ("cn", "role", "max_binding_lifetime", '"60s"', 60),
    ("ha", "advertise", "max_interval", '"2s"', 2 * S),
    ("cn", "role", "refresh_lead_ns", '"1500ms"', 1500 * 10**6),
])
def test_every_duration_takes_units(tmp_path, role, slot, key, value, expected):
    c = load_config(cli_config(tmp_path, role, slot, key, value), role)
    target = {"role": c.role_config, "advertise": c.advertise.get("mip6-none0"),
              "prefix": c.advertise["mip6-none0"].prefixes[0] if c.advertise else None,
              "hai": c.advertise["mip6-none0"].home_agent if c.advertise else None,
              "home": c.role_config.homes[0] if role == "mn" else None,
              "ro": getattr(c.role_config, "route_optimization", None)}[slot]
    assert getattr(target, key) == expected


def test_seconds_fields_cover_every_lifetime():
    """Every field the file writes in seconds takes units: the test above names one place for each."""
    covered = {"max_lifetime", "refresh_lead", "valid_lifetime", "preferred_lifetime", "lifetime",
               "router_lifetime", "max_binding_lifetime",
               "lease_ttl"}     # [etcd] lease_ttl: tests/test_ha_store_faults.py ("3s")
    assert cfg.SECONDS_FIELDS == covered


# Every integer field a daemon's file can set, where it goes, and awkward values for it: each value must
# either be refused with a ConfigError naming the key, or build a node that starts and runs its timers.
# A new integer field fails test_every_integer_field_is_listed until it is added here.
INTEGER_FIELDS = [
    ("ha", "role", f) for f in ("max_lifetime", "preference", "refresh_lead", "tunnel_mtu", "max_bindings",
                                  "max_home_agents", "dhaad_reply_rate", "dhaad_reply_burst",
                                  "mpa_reply_rate", "mpa_reply_burst")
] + [("ha", "prefix", f) for f in ("valid_lifetime", "preferred_lifetime", "prefix_length")] + [
    ("ha", "hai", f) for f in ("preference", "lifetime")
] + [("ha", "advertise", f) for f in ("max_interval", "min_interval", "router_lifetime", "cur_hop_limit",
                                       "reachable_time", "retrans_timer", "min_delay_between_ras")] + [
    ("mn", "role", f) for f in ("lifetime", "first_registration_timeout", "initial_bindack_timeout",
                                "max_bindack_timeout", "max_update_rate", "initial_dhaad_timeout",
                                "dhaad_retries", "initial_solicit_timeout", "movement_probes")
] + [("mn", "home", "prefix_length")] + [("mn", "ro", f) for f in ("default", "lifetime", "hold_down_ns")] + [
    ("mn", "sp", "ports"), ("mn", "sp", "protocols"),
] + [("cn", "role", f) for f in ("max_binding_lifetime", "binding_error_rate", "binding_error_burst",
                                 "rr_reply_rate", "rr_reply_burst", "refresh_lead_ns", "cache_capacity",
                                 "cache_seed", "max_bindings")]
AWKWARD = ["-1", "0", "1", "65536", "4294967296", "18446744073709551616", "1e30", "inf", "-inf", "nan", "1.5",
           '"30s"', '"1500ms"', '"0s"']


def test_every_integer_field_is_listed():
    from mip6fast.wire.icmpv6 import HomeAgentInformation, PrefixInformation
    listed = {f for _, _, f in INTEGER_FIELDS}
    for cls in (HomeAgentConfig, MobileNodeConfig, CorrespondentConfig, AdvertisingConfig, HomeAddressConfig,
                RouteOptimizationConfig, SourcePolicy, PrefixInformation, HomeAgentInformation):
        hints = cfg._hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            parts = [hint, *typing.get_args(hint)]
            parts += [a for p in parts for a in typing.get_args(p)]
            if any(p is int for p in parts) and f.name not in cfg.NOT_CONFIGURABLE:
                assert f.name in listed, f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize("role, slot, key", INTEGER_FIELDS)
def test_no_value_of_an_integer_field_ends_in_a_traceback(tmp_path, role, slot, key):
    from mip6fast.daemon import Daemon
    for value in AWKWARD:
        if slot == "sp":
            value = f"[{value}]"
        try:
            c = load_config(cli_config(tmp_path, role, slot, key, value), role)
        except ConfigError as exc:
            assert exc.key.split("[")[0].split(".")[0] in ("home_agent", "mobile_node", "correspondent",
                                                           "advertise"), exc
            continue
        node = Daemon(c)._build_node({n: bytes.fromhex("020000000001") for n in c.interfaces})
        now = S
        out = node.link_changed(now, "mip6-none0", up=True)
        for _ in range(20):
            if out.next_deadline is None:
                break
            now = max(now, out.next_deadline)
            out = node.tick(now)


def test_config_keys_name_settings_as_the_file_does():
    a = load_config(EXAMPLES / "ha.toml", "ha")
    text = (EXAMPLES / "ha.toml").read_text().replace("max_lifetime = 420", "max_lifetime = 400")
    b = parse_config(text.replace('log_level = "info"', 'log_level = "debug"') + "\n[[routes]]\n"
                     'prefix = "2001:db8:9::/48"\ninterface = "eth1"\n', "ha")
    ka, kb = cfg.config_keys(a), cfg.config_keys(b)
    changed = sorted(k for k in ka.keys() | kb.keys() if ka.get(k, object()) != kb.get(k, object()))
    assert changed == ["daemon.log_level", "home_agent.max_lifetime", "routes[1].interface", "routes[1].prefix",
                       "routes[1].via"]
    assert ka["advertise.eth0.prefixes[0].valid_lifetime"] == 2592000


def test_reload_applies_the_log_level_and_names_the_rest(tmp_path, caplog):
    """SIGHUP's work (Daemon.reload) without a daemon process; tests/test_daemon.py sends the signal."""
    import logging

    from mip6fast.daemon import Daemon
    path = tmp_path / "ha.toml"
    path.write_text((EXAMPLES / "ha.toml").read_text())
    daemon = Daemon(load_config(path, "ha"), config_path=str(path))
    root = logging.getLogger()
    level = root.level
    try:
        path.write_text(path.read_text().replace('log_level = "info"', 'log_level = "warning"')
                        .replace("[interfaces.eth1]", "[interfaces.eth1]\nmtu = 9000"))
        with caplog.at_level(logging.INFO, logger="mip6fast"):
            assert daemon.reload() == ["daemon.log_level"]
        assert root.level == logging.WARNING and daemon.config.daemon.log_level == "warning"
        assert daemon.config.interfaces["eth1"].mtu == 1500              # the running value stays
        assert "only taken on a restart: interfaces.eth1.mtu" in caplog.text
        path.write_text("[home_agent\n")
        caplog.clear()
        assert daemon.reload() == []
        assert "not valid TOML" in caplog.text and daemon.config.daemon.log_level == "warning"
        assert daemon.reloads == 2
    finally:
        root.setLevel(level)
