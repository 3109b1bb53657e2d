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

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
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
                                       ('"250us"', 250_000), ('"1m"', 60 * S), ('"7 s"', 7 * S)])
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
