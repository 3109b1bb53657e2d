"""The correspondent node (RFC 6275 §9), sans-I/O: ``CorrespondentNode``, a host that keeps a binding
cache for mobile nodes and talks to them route-optimised, and how its parts fit.

Theory of operation
-------------------
``CorrespondentNode`` is a ``Host`` (addresses by SLAAC, applications attached). The mobility work is
done by the objects it holds, each in its own module of this package; this module routes what the base
``Node`` hands it to them:

- ``binding_manager`` (``bindings.py``): Binding Updates and Acknowledgements, the sequence rule
  through the binding cache, expiry and Binding Refresh Requests (§9.5).
- ``return_routability`` (``return_routability.py``): Kcn, the nonces, Home / Care-of Test answers and
  the authorisation of Binding Updates (§5.2, §9.4, §9.5.1).
- ``batch_path`` (``datapath.py``): every received frame through the Home Address option kernel (§9.3.1)
  and every originated packet through the Type 2 routing header kernel (§9.3.2).
- ``errors`` (``error_messages.py``): Binding Errors and ICMPv6 Parameter Problems, rate-limited.
- ``packets.py``: reading packets from their bytes (extension headers as a node without Mobile IPv6 sees
  them; a delivered packet without its Home Address option).

Mobility Header reception is here (§9.2): a bad checksum is discarded silently, a Payload Proto other
than 59 or a Header Len too short for its type is answered with ICMPv6 Parameter Problem code 0 pointing
at the field (the ``ParseError`` offset, counted from the start of the IPv6 packet), an unknown MH type
with a Binding Error status 2; a message other than a BU with a Home Address option needs a binding like
a data packet (§6.1, §9.3.1). A Binding Update goes to ``binding_manager``, Home and Care-of Test Inits
to ``return_routability`` (return_routability.py: answered statelessly, §9.4; one carrying a Home
Address option is ignored silently, with or without a binding for it).

``mobility_support=False`` gives a plain IPv6 node that does not implement Mobile IPv6, for testing a
mobile node's fallback: a Mobility Header is an unrecognised next header (Parameter Problem code 1) and
a Home Address option an unrecognised option whose type starts with bits 11 (code 2) (RFC 8200 §4,
§4.2; RFC 6275 §6.3, §11.3.5).
"""
from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address

from ...batch import DropReason, PacketBatch
from ...binding_cache import BindingCache
from ...datapath import CorrespondentDataPath
from ...errors import ParseError
from ...wire import BindingErrorStatus, BindingUpdate, CareOfTestInit, HomeTestInit, Packet, UnknownMobilityMessage
from ..events import Output
from ..host import Host
from ..interface import IPV6_MIN_MTU, NH_MH, UNSPECIFIED, Interface, unicast_routable
from .bindings import BindingManager
from .config import CorrespondentConfig
from .counters import CORRESPONDENT_COUNTERS
from .datapath import BatchPath
from .error_messages import ErrorMessages
from .packets import strip_home_address_option, walk
from .return_routability import ReturnRoutability

# Mobility Header types of Home Test Init and Care-of Test Init (RFC 6275 §6.1.3, §6.1.4).
MH_HOTI, MH_COTI = 1, 2

__all__ = ["CorrespondentNode"]

# ParseError fields of the Mobility Header's common part that §9.2 answers with Parameter Problem.
_MH_PARAMETER_PROBLEM_FIELDS = frozenset({"payload_proto", "header_len"})


class CorrespondentNode(Host):
    """A host that implements the correspondent node part of Mobile IPv6 (RFC 6275 §8.2, §9)."""

    COUNTERS = CORRESPONDENT_COUNTERS

    def __init__(self, name: str, interfaces=(), rng=None, config: CorrespondentConfig | None = None,
                 random_bytes: Callable[[int], bytes] | None = None):
        """``random_bytes(n)``: where return routability's secret Kcn and nonces come from (the daemon
        gives ``os.urandom``); by default the node's seeded RNG, for reproducible simulations."""
        super().__init__(name, interfaces, rng)
        self.config = config if config is not None else CorrespondentConfig()
        # The sizing hint, never past max_bindings: room no binding could use is not allocated.
        self.cache = BindingCache(16, min(self.config.cache_capacity, self.config.max_bindings),
                                  self.config.cache_seed)
        mtu = min((i.mtu for i in self.interfaces.values()), default=1500)
        self.datapath = CorrespondentDataPath(self.cache, mtu=max(IPV6_MIN_MTU, min(mtu, 65535)))
        # The parts see this node as events.NodeServices (timers, counters, notifications, sending);
        # anything more is given to each explicitly.
        route_out = super().output_packet     # as a plain IPv6 node: past the RH2 kernel
        self.errors = ErrorMessages(self.config, self, self.is_own_address)
        self.return_routability = ReturnRoutability(self.config, self, route_out,
                                                    random_bytes if random_bytes is not None else self.rng.randbytes)
        self.binding_manager = BindingManager(self.config, self.cache, self, route_out, self._source_for,
                                              self.return_routability)
        self.batch_path = BatchPath(self, self.datapath, self.cache, self._receive_frame, self._hao_without_binding,
                                    route_out)

    def _source_for(self, dst: IPv6Address) -> IPv6Address | None:
        route = self.lookup(dst)
        return None if route is None else self.interfaces[route.interface].source_for(dst)

    # ------------------------------------------------------------ inbound: batches first (datapath.py)

    def receive(self, now: int, interface: str, frame) -> Output:
        out = self._begin()
        data = bytes(frame)
        if not self.config.mobility_support:
            self._receive_frame(now, interface, data)
        else:
            # Even one frame goes through the kernel (the only place a Home Address option is checked).
            self.batch_path.receive(now, interface, data)
        return self._finish(out)

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output:
        """A batch of Ethernet frames. The batch's offset/length/verdict columns are rewritten (the
        Ethernet header is stepped over and the Home Address option kernel runs over it)."""
        out = self._begin()
        if not self.config.mobility_support:
            for i in range(len(batch)):
                self._receive_frame(now, interface, batch.packet(i))
        else:
            self.batch_path.run(now, interface, batch)
        return self._finish(out)

    def _for_us(self, iface: Interface, raw: bytes) -> bool:
        """Is this raw packet's destination one of our addresses or groups (read from the bytes: used
        when the packet does not parse)."""
        if len(raw) < 40:
            return False
        dst = IPv6Address(raw[24:40])
        if dst.is_multicast:
            return iface.is_joined(dst, self.is_router)
        return self.is_own_address(dst)

    def parse_failed(self, now: int, iface: Interface, raw: bytes, exc: ParseError) -> None:
        """A packet ``parse`` refused. For a Mobility Header, §9.2 decides; everything else is a counted
        drop as in ``Node``."""
        if len(raw) < 40 or not self._for_us(iface, raw):
            self.drop(f"parse.{exc.field}")
            return
        nh, _, upper, problem = walk(raw)
        if not self.config.mobility_support and problem is not None:
            # A node without Mobile IPv6 never looks inside the Mobility Header (RFC 8200 §4).
            self.errors.parameter_problem(now, iface, raw, problem[0], problem[1])
            return
        if nh != NH_MH or exc.offset < upper:
            self.drop(f"parse.{exc.field}")
            return
        if exc.field == "checksum":
            self.drop("mh.checksum")                     # §9.2: silently, no reply of any kind
        elif exc.field in _MH_PARAMETER_PROBLEM_FIELDS:
            self.drop(f"mh.{exc.field}")
            self.errors.parameter_problem(now, iface, raw, 0, exc.offset)   # §9.2: pointer from the packet start
        else:
            self.drop(f"mh.{exc.field}")

    def deliver(self, now: int, raw: bytes, packet: Packet) -> None:
        """Applications get a swapped packet without its Home Address option (§9.3.1: the option is
        processed here and the home address is the source the upper layer sees). A kernel on the TUN
        knows no Mobile IPv6: handed the option (type 0xC9, action bits 11, RFC 8200 §4.2) it would
        discard the packet and answer with a Parameter Problem."""
        super().deliver(now, strip_home_address_option(raw), packet)

    def _hao_without_binding(self, now: int, iface: Interface, raw: bytes, hao_offset: int,
                             reason: DropReason) -> None:
        """§9.3.1: a Home Address option with no binding for that home address and care-of address:
        the packet is dropped and a Binding Error status 1 goes to its source."""
        if not self._for_us(iface, raw):
            self.drop("not_for_us")
            return
        home = IPv6Address(raw[hao_offset:hao_offset + 16])
        if self._hao_silent(home, raw):
            return
        self.drop(f"hao.{reason.name.lower()}")
        self.errors.binding_error(now, iface, IPv6Address(raw[24:40]), IPv6Address(raw[8:24]),
                                  BindingErrorStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_DESTINATION_OPTION, home)

    def _hao_silent(self, home: IPv6Address, raw: bytes) -> bool:
        """Packets with a Home Address option that are dropped without a Binding Error (True, counted):
        a home address that is not unicast routable (§6.3: never multicast; §9.3.1), and a Home Test
        Init or Care-of Test Init carrying the option (§9.4.1, §9.4.2: silently ignored)."""
        if not unicast_routable(home):
            self.drop("hao.not_unicast_routable")
            return True
        nh, _, upper, _ = walk(raw)
        if nh == NH_MH and upper + 2 < len(raw) and raw[upper + 2] in (MH_HOTI, MH_COTI):
            self.drop("hao.test_init")
            return True
        return False

    def local_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        if not self.config.mobility_support:
            _, _, _, problem = walk(raw)
            if problem is not None:
                self.errors.parameter_problem(now, iface, raw, problem[0], problem[1])
                return
        elif packet.rh2 is not None:
            # §6.4: a Type 2 routing header must name the receiver's own home address; a
            # correspondent node has none.
            self.drop("rh2.not_a_mobile_node")
            return
        super().local_packet(now, iface, raw, packet, src_mac)

    # ------------------------------------------------------------ signalling (§9.2, §9.5)

    def handle_mobility(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        msg = packet.payload
        if packet.dst.is_multicast:
            self.drop("mh.multicast_destination")
            return
        if isinstance(msg, (HomeTestInit, CareOfTestInit)):
            self.return_routability.test_init(now, packet, iface.name)     # §9.4.1, §9.4.2
            return
        if packet.home_address is not None and not isinstance(msg, BindingUpdate):
            # §6.1: only a Binding Update may carry a HAO; any other message with one needs a
            # binding for it like a data packet (§9.3.1), else Binding Error status 1.
            binding = self.cache.get(packet.home_address)
            if binding is None or binding.care_of_address != packet.src:
                if self._hao_silent(packet.home_address, raw):
                    return
                self.drop("hao.no_binding")
                self.errors.binding_error(
                    now, iface, packet.dst, packet.src,
                    BindingErrorStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_DESTINATION_OPTION, packet.home_address)
                return
        if isinstance(msg, UnknownMobilityMessage):
            # §9.2: Binding Error status 2; home address unspecified unless a HAO was present.
            self.drop("mh.unknown_type")
            self.errors.binding_error(now, iface, packet.dst, packet.src, BindingErrorStatus.UNRECOGNIZED_MH_TYPE,
                                      packet.home_address if packet.home_address is not None else UNSPECIFIED)
            return
        if isinstance(msg, BindingUpdate):
            self.binding_manager.binding_update(now, iface, raw, packet, msg)
            return
        # The other known types are for mobile nodes and home agents.
        self.drop(f"mh.unhandled.{type(msg).__name__}")

    # ------------------------------------------------------------ outbound: RH2 (datapath.py)

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None:
        """Every packet this node originates: to a bound home address it leaves for the care-of address
        with a Type 2 routing header, inserted by the C kernel over a batch (§9.3.2, §6.4)."""
        if not self.config.mobility_support:
            super().output_packet(now, raw, zone)
        else:
            self.batch_path.output(now, raw, zone)

    def send_batch(self, now: int, packets: list[bytes]) -> Output:
        """Several application packets at once: each checked as in ``send`` (``from_application``), then one
        ``insert_rh2`` call over the whole batch. ``packets`` is a list of packets or a PacketBatch
        (what the runner reads from the TUN)."""
        if isinstance(packets, PacketBatch):
            packets = list(packets.packets())
        out = self._begin()
        good = []
        for raw in packets:
            if self.from_application(bytes(raw)):
                good.append(bytes(raw))
        if not self.config.mobility_support:
            for raw in good:
                super().output_packet(now, raw)
        else:
            self.batch_path.output_batch(now, good)
        return self._finish(out)

    # ------------------------------------------------------------ the bindings, for callers

    def reboot(self, now: int) -> None:
        """A restart that loses every binding: the cache lives in memory only (RFC 6275 §9.5.2 gives it
        no persistence), so after a reboot HAO packets from a mobile node draw Binding Error status 1
        (§9.3.1) until it sends a new Binding Update; return routability's Kcn and nonces are lost too
        (Binding Updates made with older tokens get 136-138, §5.2.7). Addresses, neighbours and applications are kept
        (the node's host part is not what is being tested); no packet is sent."""
        self.binding_manager.clear()
        self.return_routability.reset()
        self.errors.reset()
        self.counters["reboots"] += 1

    def bindings(self) -> dict[IPv6Address, IPv6Address]:
        """Home address → care-of address of every binding."""
        return self.binding_manager.mapping()
