"""The counters of the home agent (``home_agent.HomeAgent``), declared once (``roles.counters``)."""
from __future__ import annotations

from ..counters import CounterTable, declare
from ..node_counters import BA_STATUSES, BE_STATUSES, DROP_REASONS, ICMPV6_MESSAGES, MOBILITY_MESSAGES
from ..protection import PROTECTION_COUNTERS
from ..router_counters import ROUTER_COUNTERS
from .journal import STORE_FAILURES

__all__ = ["HOME_AGENT_COUNTERS"]

HOME_AGENT_COUNTERS = CounterTable("home_agent", declare(
    # ---- registration (registration.py, RFC 6275 §10.3)
    ("binding.created", "bindings created"),
    ("binding.updated", "bindings refreshed or moved to a new care-of address"),
    ("binding.deleted", "bindings deleted by a de-registration"),
    ("binding.expired", "bindings whose lifetime ran out"),
    ("ba.sent.status.<status>", "Binding Acknowledgements sent, by status", BA_STATUSES),
    ("brr.sent", "Binding Refresh Requests sent (§9.5.5)"),
    ("has.sent", "Home Agent Switch messages sent (RFC 5142): mobile nodes told to register elsewhere"),
    ("binding.handed_over", "bindings given up to the home agent a Home Agent Switch named, when it probed "
     "their home address by DAD (RFC 5142, RFC 6275 §10.4.1)"),
    ("drop.bu.bad_home_address", "a BU whose home address is not on a home link of this agent (§10.3.1)"),
    ("drop.bu.bad_care_of_address", "a BU whose care-of address is not a usable unicast address"),
    ("drop.bu.home_with_nonce_indices", "a home registration carrying a Nonce Indices option (§10.3.1)"),
    ("drop.bu.not_home_registration", "a BU without the H flag to a node that is no correspondent"),
    ("drop.bu.unprotected", "a BU for a home address that must be protected, without ESP: no answer (issue 11)"),
    ("drop.bu.wrong_sa", "a BU under an SA that is not its home address's: no answer (RFC 3776)"),
    ("bu.refused.max_bindings", ("first registrations refused with 130: bindings plus those waiting for DAD "
     "reached max_bindings")),
    ("bu.invalid_care_of_address", "a BU whose care-of address is not usable, answered with 174 (§6.1.8)"),
    ("drop.bu.dad_in_progress", "a BU while DAD for its home address runs; the BA follows when DAD ends"),
    # ---- the binding store (journal.py, issue 13)
    ("store.commits", "commits of the binding store (one per entry point that changed a binding)"),
    ("store.commit_failed", "commits of the binding store that failed: their accepted BAs were not sent"),
    ("store.commit_failed.<reason>", "failed commits of the binding store, by reason",
     (*sorted(STORE_FAILURES.values()), "other")),
    ("store.ba_withheld", "accepted BAs not sent because their binding could not be stored"),
    ("store.recovered", "bindings put back from the binding store at start"),
    ("store.recovery_expired", "bindings found expired in the binding store at start (removed)"),
    ("store.replay_windows_resumed", "inbound ESP SAs and RFC 4285 home addresses whose replay state resumed "
     "from the marks stored with the bindings (a BU captured before the restart is a replay after it)"),
    ("store.recovery_outside_prefixes", "stored bindings on no current home prefix at start (removed)"),
    ("store.recovery_no_time_left", "stored bindings whose home prefix has no valid lifetime left (removed)"),
    ("store.recovery_nomem", "stored bindings the binding cache had no room for at start (kept in the store)"),
    ("binding.recovered", "bindings put back in the cache from the binding store"),
    # ---- redundancy (issue 16, README "Redundancy")
    ("redundancy.takeovers", "times this home agent became the active one of its group and took over"),
    ("redundancy.addresses_announced", "unsolicited NAs (Override) for its own addresses sent at a takeover"),
    ("redundancy.mirrored", "bindings a warm standby put in its cache as the active committed them (etcd watch)"),
    ("redundancy.mirror_deleted", "bindings a warm standby removed as the active deleted them (etcd watch)"),
    ("redundancy.mirror_dropped", "bindings a warm standby could not mirror (outside the home prefixes, no time "
     "left, no room in the cache)"),
    ("redundancy.warm_bindings", "bindings already in the cache at a takeover (a warm standby): not loaded"),
    ("redundancy.cold_fallbacks", "takeovers whose watch could not catch up in time: every binding loaded"),
    # ---- duplicate address detection for home addresses (dad.py, §10.4.1)
    ("dad.ns_sent", "DAD Neighbor Solicitations sent for a home address"),
    ("dad.ns_received", "a DAD NS from another node for a home address under test"),
    ("dad.na_received", "an NA defending a home address under test"),
    ("dad.succeeded", "home addresses DAD found unique"),
    ("dad.failed", "home addresses DAD found in use"),
    # ---- proxy neighbour discovery (proxy_nd.py, §10.4.1)
    ("proxy.na_sent", "unsolicited proxy NAs sent for a registered home address"),
    ("drop.proxy.na_no_source", "a proxy NA not sent: no link-local address to send it from"),
    # ---- home agents list and DHAAD (discovery.py, §10.5, §10.5.1)
    ("home_agents.updated", "home agents list entries added or refreshed from an RA with the H flag"),
    ("home_agents.removed", "home agents list entries removed (lifetime zero)"),
    ("home_agents.refused", "an RA from a further home agent while the list holds max_home_agents"),
    ("home_agents.no_global_address", "an RA with the H flag but no R-flag prefix: nothing to list"),
    ("dhaad.replies", "DHAAD Replies sent"),
    ("drop.dhaad.rate_limited", "a DHAAD Request not answered: over dhaad_reply_rate / dhaad_reply_burst"),
    ("drop.dhaad.not_anycast", "a DHAAD Request not to the Mobile IPv6 home agents anycast address"),
    # ---- mobile prefix discovery (mobile_prefix.py, §10.6)
    ("mpa.sent", "solicited Mobile Prefix Advertisements sent"),
    ("mpa.sent_unsolicited", "unsolicited Mobile Prefix Advertisements sent after a prefix change"),
    ("mpa.not_sent_rfc4285", "a prefix change not announced to an RFC 4285 home address (it cannot be authenticated)"),
    ("drop.mps.unprotected", "a Mobile Prefix Solicitation for a protected home address without its SA"),
    ("drop.mps.rate_limited", "a Mobile Prefix Solicitation not answered: over mpa_reply_rate / mpa_reply_burst"),
    ("drop.mps.without_hao", "a Mobile Prefix Solicitation without a Home Address option"),
    ("home_prefix.added", "home prefixes learnt from the home link's RAs"),
    # ---- errors (error_messages.py)
    ("be.sent.status.<status>", "Binding Errors sent, by status (§9.3.3)", BE_STATUSES),
    ("drop.be.rate_limited", "a Binding Error not sent: over the rate limit"),
    ("parameter_problem.code.<code>", "Parameter Problems due about a malformed packet, by code (before §2.4 e)",
     ("0", "1", "2")),
    ("tunnel_error.relayed.<message>", "ICMPv6 errors about tunnelled packets relayed to the inner source",
     ICMPV6_MESSAGES),
    ("drop.tunnel_error.bad_inner", "an ICMPv6 error about a tunnelled packet whose inner packet is unusable"),
    # ---- the data path (datapath.py, agent.py)
    ("tunnelled", "packets tunnelled to a mobile node's care-of address (§10.4.2)"),
    ("tunnelled_own", "the agent's own packets tunnelled to a mobile node"),
    ("detunnelled", "packets from a mobile node reverse-tunnelled to the agent and forwarded"),
    ("drop.datapath.<reason>", "packets the data path kernels dropped, by DropReason", DROP_REASONS),
    ("drop.tunnel.multicast_membership", "MLD out of a reverse tunnel: no group state is kept"),
    ("drop.tunnel.own_packet_too_big", "the agent's own packet too big for the tunnel"),
    ("drop.tunnel.no_route", "a tunnelled packet with no route to the care-of address"),
    ("drop.tunnel.mobile_node_link_local",
     "a packet for a mobile node's link-local address: not tunnelled, answered unreachable (§10.4.2)"),
    ("drop.workers.interface_down", "a frame a forwarding worker left to the slow path for an interface "
     "that is down or unknown here"),
    ("drop.tunnel.slow_path",
     "a tunnelled packet the kernels left to the slow path (no binding, wrong outer source, malformed; §10.4.5)"),
    ("drop.hao.not_unicast_routable", "a Home Address option naming a multicast or non-routable address: "
     "dropped without a Binding Error (§6.3, §9.3.1)"),
    ("drop.hao.no_binding", "a Home Address option for a home address with no binding (§9.3.1)"),
    ("drop.mh.hao_not_bu", "a Mobility Header other than a BU with a Home Address option (§6.1)"),
    ("drop.mh.rh2_not_ba", "a Mobility Header other than a BA with a Type 2 routing header (§6.1)"),
    ("drop.mh.unhandled.<message>", "mobility messages this role does not take, by class", MOBILITY_MESSAGES),
), bases=(ROUTER_COUNTERS, PROTECTION_COUNTERS))
