"""The Mobile IPv6 topology most scenarios share (``Mip6World``) and its addresses."""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from ..roles import AdvertisingConfig, Interface, Router, slaac_address
from ..roles.correspondent import CorrespondentNode
from ..roles.home_agent import BindingCreated, BindingDeleted, HomeAgent, HomeAgentConfig
from ..roles.mobile_node import BindingRefreshed, HomeAddressConfig, MobileNode, MobileNodeConfig, Registered
from ..roles.protection import CaptureKeys, manual_mn_ha, manual_pair
from ..security import MnHaCredential, MnHaCredentials, SecurityPolicyDatabase
from ..sim import NS_PER_S, Link, Simulator
from ..wire import PrefixInformation

MS = 1_000_000


def mac(n: int) -> bytes:
    """A locally administered MAC address ending in ``n`` (scenario nodes are numbered)."""
    return bytes([0x02, 0, 0, 0, n >> 8 & 0xFF, n & 0xFF])


HOME_PREFIX = IPv6Network("2001:db8:1::/64")
CORE_PREFIX = IPv6Network("2001:db8:ff::/64")
CN_PREFIX = IPv6Network("2001:db8:c::/64")
FOREIGN_A = IPv6Network("2001:db8:a::/64")
FOREIGN_B = IPv6Network("2001:db8:b::/64")
HA_ADDRESS = IPv6Address("2001:db8:1::1")
MN_MAC = mac(0x40)
CN_MAC = mac(0x41)
HOME_ADDRESS = slaac_address(HOME_PREFIX, MN_MAC)
CN_ADDRESS = slaac_address(CN_PREFIX, CN_MAC)
MN_NAI = "mn@example.net"


class Mip6World:
    """The Mobile IPv6 topology the three scenarios share:

    - ``home`` link: the home agent ``ha`` is its router (eth0, RAs with the H flag, the Home Agent
      Information option and an R-flag prefix holding its address); its eth1 is on ``core``;
    - ``core`` link: ``ha``, the core router ``rc`` (also on the correspondent's link ``cnet``), and the
      foreign routers ``ra`` / ``rb``, each with a foreign link behind it (``fa``, ``fb``);
    - ``cn``: a ``CorrespondentNode`` on ``cnet``; ``mn``: the ``MobileNode`` with one home address.
    The foreign routers advertise every second with the Advertisement Interval option, so movement is
    detected within a few seconds (RFC 6275 §7.3, §11.5.1).

    ``protected`` (the default): the home registration is protected by ESP (AES-128-GCM, RFC 6275 §5.1,
    issue 11), its keys, SPIs and IV randomness drawn from the simulator's seeded ``keys`` rng;
    ``mn_spd`` and ``ha_spd`` are the two ends (a scenario that replaces ``mn`` gives it ``mn_spd``).
    False: unprotected registrations (``unauthenticated_registrations``), for scenarios about
    something else that say so. ``more_keyed_homes``: home addresses the node may come to use (a
    renumbering), keyed in advance as manual keying needs. ``rfc4285``: the home registration is
    protected by RFC 4285 instead (the MN-HA authentication option; no SAs): True draws a credential
    for ``HOME_ADDRESS`` (NAI ``MN_NAI``) from the same ``keys`` rng, or give one; ``mn_ha_credential``
    is the credential both ends hold."""

    def __init__(self, sim: Simulator, lifetime: int, foreign_links: int, protected: bool = True,
                 more_keyed_homes: tuple[IPv6Address, ...] = (), rfc4285: bool | MnHaCredential = False):
        self.sim = sim
        self.protected = protected
        self.mn_spd: SecurityPolicyDatabase | None = None
        self.ha_spd: SecurityPolicyDatabase | None = None
        self.mn_ha_credential: MnHaCredential | None = None
        self.capture_keys = CaptureKeys()          # for taps and tests reading the captures
        if protected and rfc4285:
            if more_keyed_homes:
                raise ValueError("more_keyed_homes: ESP only")
            self.mn_ha_credential = rfc4285 if isinstance(rfc4285, MnHaCredential) else \
                manual_mn_ha(HOME_ADDRESS, sim.rng_for("keys"), nai=MN_NAI)
        elif protected:
            keys = sim.rng_for("keys")
            self.mn_spd, self.ha_spd = SecurityPolicyDatabase(), SecurityPolicyDatabase()
            for home in (HOME_ADDRESS, *more_keyed_homes):
                mn_sas, ha_sas = manual_pair(home, HA_ADDRESS, keys, capture=self.capture_keys)
                for sa in mn_sas:
                    self.mn_spd.add(sa)
                for sa in ha_sas:
                    self.ha_spd.add(sa)
        self.home = Link("home", delay_ns=200_000)
        self.core = Link("core", delay_ns=1 * MS)
        self.cnet = Link("cnet", delay_ns=200_000)
        self.ha = HomeAgent("ha", [Interface("eth0", mac(0x30)), Interface("eth1", mac(0x31))],
                            HomeAgentConfig("eth0", (HOME_PREFIX,), HA_ADDRESS,
                                            unauthenticated_registrations=not protected),
                            rng=sim.rng_for("ha"), spd=self.ha_spd, mn_ha=self._credentials())
        self.ha.interfaces["eth1"].add_address("2001:db8:ff::1", 64)
        self.ha.add_route("::/0", "eth1", "2001:db8:ff::2")
        self.rc = Router("rc", [Interface("eth0", mac(0x32)), Interface("eth1", mac(0x33))],
                         rng=sim.rng_for("rc"))
        self.rc.interfaces["eth0"].add_address("2001:db8:ff::2", 64)
        self.rc.interfaces["eth1"].add_address("2001:db8:c::1", 64)
        self.rc.add_route(HOME_PREFIX, "eth0", "2001:db8:ff::1")
        self.rc.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(CN_PREFIX.network_address, 64)],
                                                    max_interval=4 * NS_PER_S, min_interval=3 * NS_PER_S))
        self.foreign: list[Link] = []
        self.foreign_routers: list[Router] = []
        for n, (name, prefix) in enumerate((("fa", FOREIGN_A), ("fb", FOREIGN_B))[:foreign_links]):
            r = Router("r" + name[1], [Interface("eth0", mac(0x34 + 2 * n)), Interface("eth1", mac(0x35 + 2 * n))],
                       rng=sim.rng_for("r" + name[1]))
            core_address = f"2001:db8:ff::{0xa + n:x}"
            r.interfaces["eth0"].add_address(core_address, 64)
            r.interfaces["eth1"].add_address(prefix.network_address + 1, 64)
            r.add_route("::/0", "eth0", "2001:db8:ff::2")
            r.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(prefix.network_address, 64)],
                                                  max_interval=1 * NS_PER_S, advertisement_interval_option=True,
                                                  min_delay_between_ras=30 * MS))
            self.rc.add_route(prefix, "eth0", core_address)
            self.ha.add_route(prefix, "eth1", core_address)
            self.foreign.append(Link(name, delay_ns=200_000))
            self.foreign_routers.append(r)
        self.cn = CorrespondentNode("cn", [Interface("eth0", CN_MAC)], rng=sim.rng_for("cn"))
        self.mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                             config=MobileNodeConfig("eth0", (HomeAddressConfig(HOME_ADDRESS, HA_ADDRESS),),
                                                     lifetime=lifetime), spd=self.mn_spd,
                             mn_ha=self._credentials())

    def _credentials(self) -> MnHaCredentials | None:
        """Each end's own container of the RFC 4285 credential (None: ESP or nothing)."""
        return None if self.mn_ha_credential is None else MnHaCredentials([self.mn_ha_credential])

    def start(self, mn_link: Link) -> None:
        sim = self.sim
        sim.attach(self.ha, "eth0", self.home)
        sim.attach(self.ha, "eth1", self.core)
        sim.attach(self.rc, "eth0", self.core)
        sim.attach(self.rc, "eth1", self.cnet)
        for r, link in zip(self.foreign_routers, self.foreign):
            sim.attach(r, "eth0", self.core)
            sim.attach(r, "eth1", link)
        sim.attach(self.cn, "eth0", self.cnet)
        sim.attach(self.mn, "eth0", mn_link)

    def events(self, node: str, cls) -> list:
        return [n for _, name, n in self.sim.timeline if name == node and isinstance(n, cls)]

    def binding_cache(self, now: int) -> list[dict]:
        """The home agent's bindings at the end: home address, care-of address, seconds left."""
        entries = []
        for key, b in sorted(self.ha.cache.items(), key=lambda kv: str(kv[0])):
            entries.append({"home_address": str(key), "care_of_address": str(b.care_of_address),
                            "sequence": b.sequence, "remaining_s": max(0, (b.expires_ns - now) // NS_PER_S)})
        return entries

    def common(self, name: str, seed: int) -> dict:
        sim = self.sim
        return {
            "scenario": name,
            "seed": seed,
            "home_address": str(HOME_ADDRESS),
            "registrations": len(self.events("mn", Registered)),
            "refreshes": len(self.events("mn", BindingRefreshed)),
            "ha_bindings_created": len(self.events("ha", BindingCreated)),
            "ha_bindings_deleted": len(self.events("ha", BindingDeleted)),
            "binding_cache": self.binding_cache(sim.now),
            "ha": dict(sorted(self.ha.counters.items())),
            "mn": dict(sorted(self.mn.counters.items())),
            "links": {n: dict(sorted(link.counters.items())) for n, link in sim.links.items()},
            "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
            "timeline": sim.timeline_lines(),
        }
