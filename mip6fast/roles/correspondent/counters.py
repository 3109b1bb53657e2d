"""The counters of the correspondent node (``correspondent.CorrespondentNode``), declared once
(``roles.counters``)."""
from __future__ import annotations

from ..counters import CounterTable, declare
from ..node_counters import BA_STATUSES, BE_STATUSES, DROP_REASONS, MOBILITY_MESSAGES, NODE_COUNTERS

__all__ = ["CORRESPONDENT_COUNTERS"]

CORRESPONDENT_COUNTERS = CounterTable("correspondent", declare(
    # ---- bindings (bindings.py, RFC 6275 §9.5)
    ("binding.created", "bindings created"),
    ("binding.updated", "bindings refreshed or moved to a new care-of address"),
    ("binding.deleted", "bindings deleted by a de-registration"),
    ("binding.expired", "bindings whose lifetime ran out"),
    ("ba.sent.status.<status>", "Binding Acknowledgements sent, by status", BA_STATUSES),
    ("brr.sent", "Binding Refresh Requests sent (§9.5.5)"),
    ("brr.skipped_idle", "a Binding Refresh Request not sent: the binding carried no recent traffic"),
    ("drop.brr.no_source", "a Binding Refresh Request not sent: no address to send it from"),
    ("drop.bu.address_scope", "a BU whose home or care-of address is not unicast routable (§9.5.1)"),
    ("drop.bu.not_authorised", ("a BU without return routability the configuration's check refused, "
     "discarded silently (§9.5.1)")),
    ("bu.rr_authorised", "BUs return routability authorised (§5.2.6, §9.5.1)"),
    ("bu.unauthenticated", "BUs let in without return routability (unauthenticated_bindings / the check)"),
    ("drop.bu.rr.<reason>", "a BU return routability refused, discarded silently (§9.5.1): missing (no Nonce "
     "Indices or Binding Authorization Data), not_last (padding after the option), authenticator (wrong)",
     ("missing", "not_last", "authenticator")),
    # ---- return routability (return_routability.py, RFC 6275 §5.2, §9.4)
    ("rr.hoti_received", "Home Test Init messages received"),
    ("rr.coti_received", "Care-of Test Init messages received"),
    ("rr.hot_sent", "Home Test messages sent (§9.4.3)"),
    ("rr.cot_sent", "Care-of Test messages sent (§9.4.4)"),
    ("drop.rr.hoti_source", "a Home Test Init from an address that is not unicast routable"),
    ("drop.rr.coti_source", "a Care-of Test Init from an address that is not unicast routable"),
    ("drop.rr.rate_limited", "a Home / Care-of Test or a BA with status 136-138 not sent: over the rate limit"),
    ("rr.nonce_generated", "nonces made (one at most every 30 s, on demand; §5.2.7)"),
    ("rr.kcn_generated", "secrets Kcn made (on the first nonce, then every 240 s; §5.2.1)"),
    ("drop.bu.status.<status>", "a BU refused, answered with a BA of this status", BA_STATUSES),
    ("bu.refused.max_bindings", ("new bindings refused with 130: the binding cache held max_bindings "
     "(existing bindings are still refreshed)")),
    # ---- errors (error_messages.py)
    ("be.sent.status.<status>", "Binding Errors sent, by status (§9.3.3)", BE_STATUSES),
    ("drop.be.not_allowed", "a Binding Error not sent: multicast or unspecified addresses"),
    ("drop.be.rate_limited", "a Binding Error not sent: over the rate limit"),
    ("parameter_problem.code.<code>", "Parameter Problems due about a malformed packet, by code (before §2.4 e)",
     ("0", "1", "2")),
    ("drop.icmp_error_not_allowed", "a Parameter Problem not sent: multicast or unspecified addresses (§2.4 e)"),
    # ---- the data path (datapath.py, node.py)
    ("hao.swapped", "packets with a Home Address option whose source was swapped in (§9.3.1)"),
    ("rh2.inserted", "packets sent with a Type 2 routing header to a bound mobile node (§9.3.2)"),
    ("drop.rh2.send_too_big", "an application's packet too big once a Type 2 routing header is added"),
    ("drop.rh2.not_a_mobile_node", "a Type 2 routing header received: this node is not a mobile node"),
    ("drop.datapath.<reason>", "packets the data path kernels dropped, by DropReason", DROP_REASONS),
    ("drop.hao.<reason>", "a Home Address option the kernel refused (§9.3.1), by DropReason", DROP_REASONS),
    ("drop.hao.not_unicast_routable", ("a Home Address option naming a multicast or non-routable address: "
     "dropped silently (§6.3, §9.3.1)")),
    ("drop.hao.test_init", "a HoTI or CoTI with a Home Address option: ignored silently (§9.4.1, §9.4.2)"),
    ("drop.hao.no_binding", "a Home Address option for a home address with no binding (§9.3.1)"),
    # ---- the Mobility Header (node.py, §9.2)
    ("drop.mh.checksum", "a Mobility Header with a bad checksum, dropped silently (§9.2)"),
    ("drop.mh.<field>", "a malformed Mobility Header, by the field at fault (§9.2)"),
    ("drop.mh.multicast_destination", "a Mobility Header sent to a multicast address"),
    ("drop.mh.unknown_type", "a Mobility Header of an unknown type with no reply allowed"),
    ("drop.mh.unhandled.<message>", "mobility messages this role does not take, by class", MOBILITY_MESSAGES),
    ("reboots", "simulated reboots: the binding cache was lost"),
), bases=(NODE_COUNTERS,))
