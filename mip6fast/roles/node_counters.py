"""The counters of the base node (``node.Node``) and of its neighbour discovery (``neighbor.py``),
declared once (``roles.counters``); every role's table builds on ``NODE_COUNTERS``."""
from __future__ import annotations

from ..batch import DropReason
from ..wire.icmpv6 import ICMPv6Message
from ..wire.mobility import BindingAckStatus, BindingErrorStatus, MobilityMessage
from .counters import CounterTable, declare

__all__ = ["BA_STATUSES", "BE_STATUSES", "DROP_REASONS", "ICMPV6_MESSAGES", "MESSAGES", "MOBILITY_MESSAGES",
           "NODE_COUNTERS"]


def _subclasses(cls) -> frozenset[str]:
    out, todo = set(), [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            out.add(sub.__name__)
            todo.append(sub)
    return frozenset(out)


# The closed sets the families' variable parts come from.
DROP_REASONS = frozenset(r.name.lower() for r in DropReason)
ICMPV6_MESSAGES = _subclasses(ICMPv6Message)
MOBILITY_MESSAGES = _subclasses(MobilityMessage)
MESSAGES = ICMPV6_MESSAGES | MOBILITY_MESSAGES
BA_STATUSES = frozenset(str(int(s)) for s in BindingAckStatus)
BE_STATUSES = frozenset(str(int(s)) for s in BindingErrorStatus)
ROUTER_REMOVED = ("na_router_flag_cleared", "lifetime_zero", "lifetime_expired", "nud_failed",
                  "link_down", "movement")

NODE_COUNTERS = CounterTable("node", declare(
    # ---- frames in and out (node.py)
    ("rx_frames", "Ethernet frames received on an up, known interface"),
    ("tx_frames", "Ethernet frames handed to a link"),
    ("delivered", "packets delivered to the node's own applications"),
    ("echo_replies", "Echo Replies sent (RFC 4443 §4.2)"),
    ("link_changed_unknown_interface", "a carrier change reported for an interface the node does not have"),
    ("sim.tx_unattached", "a frame sent on an interface the simulator has attached to no link"),
    ("icmp_error.<message>", "ICMPv6 errors originated, by message class", ICMPV6_MESSAGES),
    # ---- a data-plane graph's tables (graph_tables.py)
    ("graph.routes_overflow", "more routes than the C graph holds: it got none, every packet took the slow path"),
    ("graph.too_many_interfaces", "more interfaces than the C graph holds: batches took the per-frame path"),
    ("graph.adjacency_full", "a usable neighbour not copied into the graph's full adjacency table (slow path)"),
    # ---- drops (node.py)
    ("drop.unknown_interface", "a frame arrived on an interface the node does not have"),
    ("drop.interface_down", "a frame arrived on an interface that is down"),
    ("drop.ethernet_truncated", "a frame shorter than an Ethernet header"),
    ("drop.ethertype", "a frame that is not IPv6 (EtherType other than 0x86DD)"),
    ("drop.mac_filter", "a frame for a MAC address that is not ours, broadcast or a joined group (RFC 2464 §7)"),
    ("drop.own_frame", "our own frame looped back by the link"),
    ("drop.parse.<field>", "an inbound packet the parser refused, by the field at fault"),
    ("drop.multicast_group", "a multicast packet for a group the interface has not joined"),
    ("drop.tentative_destination", "a packet for a tentative address (RFC 4862 §5.4)"),
    ("drop.not_for_us", "a packet for an address that is not ours, on a node that does not forward"),
    ("drop.tunnel_not_configured", "IPv6-in-IPv6 to a node with no tunnel endpoint (RFC 2473 §3)"),
    ("drop.echo_no_source", "an Echo Request to a group with no unicast address to answer from"),
    ("drop.icmp_error_unparsable", "an ICMPv6 error not sent: the invoking packet does not parse"),
    ("drop.icmp_error_bad_source", "an ICMPv6 error not sent: the invoking source is multicast or unspecified"),
    ("drop.icmp_error_multicast", "an ICMPv6 error not sent: the invoking packet went to a group (§2.4 e.3)"),
    ("drop.icmp_error_about_error", "an ICMPv6 error not sent: the invoking packet is an error (§2.4 e.1)"),
    ("drop.icmp_error_no_source", "an ICMPv6 error not sent: no address to send it from"),
    ("drop.icmp_error_rate_limited", "an ICMPv6 error not sent: over the rate limit (RFC 4443 §2.4 f)"),
    ("drop.send_parse.<field>", "an application's packet the parser refused, by the field at fault"),
    ("drop.send_link_scope", "an application's packet of link scope (RFC 4291 §2.5.6, §2.7)"),
    ("drop.send_not_ipv6", "an application's packet that is not IPv6"),
    ("drop.no_route", "a packet with no route to its destination"),
    ("drop.interface_down_tx", "a packet routed to an interface that is down"),
    ("drop.too_big_tx", "a packet larger than the outgoing link's MTU"),
    # ---- neighbour discovery (neighbor.py, RFC 4861 / 4862)
    ("nd.tx.<message>", "neighbour discovery messages sent, by message class", ICMPV6_MESSAGES),
    ("nd.queue_dropped_link_down", "packets waiting for address resolution dropped when the link went down"),
    ("nd.dad_succeeded", "addresses that passed duplicate address detection"),
    ("nd.dad_duplicate", "addresses duplicate address detection found in use"),
    ("nd.dad_optimistic", "addresses SLAAC formed that are used while their DAD runs (RFC 4429 optimistic DAD)"),
    ("nd.dad_duplicate_optimistic", "optimistic addresses DAD found in use after all (RFC 4429 §3.2)"),
    ("nd.resolution_deferred_optimistic",
     "address resolution for a packet from an optimistic address put off until DAD ends (RFC 4429 §3.2)"),
    ("nd.na_optimistic_no_override", "NA for an optimistic address, sent with O = 0 (RFC 4429 §3.2)"),
    ("nd.rs_without_delay", "carrier-ups whose first RS left at once, without RFC 4861 §6.3.7's random delay"),
    ("nd.slaac_replaced_duplicate", "a SLAAC address formed with a random identifier in place of a duplicate one"),
    ("nd.ns_for_tentative_ignored", "NS for one of our tentative addresses, not answered (RFC 4862 §5.4.3)"),
    ("nd.ns_for_duplicate_ignored", "NS for an address found duplicate, not answered"),
    ("nd.na_answered", "NS answered with an NA"),
    ("nd.na_answered_proxy", "NS answered with an NA for a proxied address"),
    ("nd.proxy_yielded", "a DAD NS for a proxied address left undefended: the node gave it up to the prober "
     "(a home agent after a Home Agent Switch, RFC 5142)"),
    ("nd.na_for_own_address", "an NA claiming one of our addresses (RFC 4862 §5.4.4), logged only"),
    ("nd.na_unsolicited_ignored", "an unsolicited NA for no cache entry (RFC 4861 §7.2.5)"),
    ("nd.na_not_override_ignored", "an NA without the override flag left the cache entry as it was"),
    ("nd.rs_ignored_host", "an RS a host ignores (RFC 4861 §6.2.6)"),
    ("nd.ra_ignored_router", "an RA a router does not use for its configuration"),
    ("nd.ra_processed", "RAs processed"),
    ("nd.router_removed.<reason>", "default routers removed, by reason", ROUTER_REMOVED),
    ("nd.slaac_formed", "addresses formed by stateless autoconfiguration (RFC 4862 §5.5.3)"),
    ("nd.cache_evicted", "neighbour cache entries evicted to make room"),
    ("nd.queue_overflow", "packets waiting for resolution replaced by newer ones (§7.2.2)"),
    ("nd.resolution_failed_dropped", "packets dropped when address resolution failed"),
    ("nd.neighbor_unreachable", "neighbours neighbour unreachability detection gave up on"),
    ("nd.drop.hop_limit", "an ND message with a hop limit other than 255"),
    ("nd.drop.code", "an ND message with an ICMP code other than 0"),
    ("nd.drop.not_neighbor_discovery", "an ICMPv6 message handed to ND that is not one of its types"),
    ("nd.drop.ns_multicast_target", "an NS whose target is multicast"),
    ("nd.drop.ns_bad_dad", "a DAD NS (unspecified source) not to a solicited-node group or with an SLLA"),
    ("nd.drop.ns_not_for_us", "an NS for a target that is not ours"),
    ("nd.drop.ns_no_link_address", "an NS with no SLLA option that would need resolving the solicitor"),
    ("nd.drop.ns_no_source", "an NS not sent: no address to send it from"),
    ("nd.drop.na_multicast_target", "an NA whose target is multicast"),
    ("nd.drop.na_solicited_multicast", "a solicited NA sent to a multicast address"),
    ("nd.drop.na_no_tlla", "an NA with no target link-layer address for an incomplete entry"),
    ("nd.drop.rs_unspecified_with_slla", "an RS from the unspecified address with an SLLA (§6.1.1)"),
    ("nd.drop.ra_source_not_link_local", "an RA whose source is not link-local (§6.1.2)"),
    ("nd.drop.ra_mtu_out_of_range", "an RA MTU option out of range"),
    ("nd.drop.router_limit", "an RA from a new router over the routers limit"),
    ("nd.drop.pio_link_local", "a prefix information option for the link-local prefix"),
    ("nd.drop.prefix_limit", "a prefix over the prefixes limit"),
    ("nd.drop.pio_preferred_above_valid", "a PIO whose preferred lifetime exceeds its valid lifetime"),
    ("nd.drop.pio_length_not_64", "a PIO for autoconfiguration whose prefix is not a /64"),
    ("nd.drop.address_limit", "an autoconfigured address over the addresses limit"),
    ("nd.drop.cache_full", "a neighbour cache entry not created: the cache is full"),
    ("nd.drop.to_proxied_address", "a packet for an address this node proxies for an absent owner"),
))
