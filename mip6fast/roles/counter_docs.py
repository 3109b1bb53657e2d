"""Every role's declared counters in one place: ``ROLE_TABLES`` for ``mip6fast counters ROLE`` and the
daemon's ``stats`` meanings, and the text of ``docs/COUNTERS.md``, generated from the declarations:

    mip6fast counters --markdown > docs/COUNTERS.md      # regenerate it

(tests/test_counters.py fails when the file and the declarations differ.)"""
from __future__ import annotations

from .correspondent.counters import CORRESPONDENT_COUNTERS
from .counters import CounterTable
from .fleet_counters import FLEET_COUNTERS
from .home_agent.counters import HOME_AGENT_COUNTERS
from .mn_counters import MOBILE_NODE_COUNTERS
from .node_counters import NODE_COUNTERS
from .router_counters import ROUTER_COUNTERS

__all__ = ["ALIASES", "RENAMES", "ROLE_TABLES", "render_markdown", "table_for"]

ROLE_TABLES: dict[str, CounterTable] = {t.role: t for t in (
    NODE_COUNTERS, ROUTER_COUNTERS, HOME_AGENT_COUNTERS, CORRESPONDENT_COUNTERS, MOBILE_NODE_COUNTERS,
    FLEET_COUNTERS)}
ALIASES = {"host": "node", "ha": "home_agent", "cn": "correspondent", "mn": "mobile_node"}

# The names the roles used before the declarations (issue 9, item 5), and what they are now.
RENAMES: tuple[tuple[str, str, str], ...] = (
    # (old, new, role)
    ("ba.status.<N>", "ba.sent.status.<N>", "home agent"),
    ("ba_sent.status<N>", "ba.sent.status.<N>", "correspondent"),
    ("be.status.<N>", "be.sent.status.<N>", "home agent"),
    ("binding_error_sent.status<N>", "be.sent.status.<N>", "correspondent"),
    ("bindings_created", "binding.created", "correspondent"),
    ("bindings_updated", "binding.updated", "correspondent"),
    ("bindings_deleted", "binding.deleted", "correspondent"),
    ("bindings_expired", "binding.expired", "correspondent"),
    ("brr_sent", "brr.sent", "home agent, correspondent"),
    ("brr_skipped_idle", "brr.skipped_idle", "correspondent"),
    ("drop.brr_no_source", "drop.brr.no_source", "correspondent"),
    ("drop.hao_no_binding", "drop.hao.no_binding", "home agent"),
    ("drop.binding_error_rate_limited", "drop.be.rate_limited", "home agent, correspondent"),
    ("drop.binding_error_not_allowed", "drop.be.not_allowed", "correspondent"),
    ("mh.parameter_problem", "parameter_problem.code.0", "home agent"),
    ("parameter_problem.code<N>", "parameter_problem.code.<N>", "correspondent"),
    ("drop.mh_unexpected.<message>", "drop.mh.unhandled.<message>", "home agent"),
    ("drop.mh_hao_not_bu", "drop.mh.hao_not_bu", "home agent"),
    ("drop.mh_rh2_not_ba", "drop.mh.rh2_not_ba", "home agent"),
    ("drop.bu.status<N>", "drop.bu.status.<N>", "correspondent"),
    ("drop.bu_bad_home_address", "drop.bu.bad_home_address", "home agent"),
    ("drop.bu_bad_care_of_address", "drop.bu.bad_care_of_address", "home agent"),
    ("drop.bu_home_with_nonce_indices", "drop.bu.home_with_nonce_indices", "home agent"),
    ("drop.bu_not_home_registration", "drop.bu.not_home_registration", "home agent"),
    ("drop.bu_dad_in_progress", "drop.bu.dad_in_progress", "home agent"),
    ("drop.dhaad_not_anycast", "drop.dhaad.not_anycast", "home agent"),
    ("drop.mps_without_hao", "drop.mps.without_hao", "home agent"),
    ("mpa_sent", "mpa.sent", "home agent"),
    ("mpa_unsolicited_sent", "mpa.sent_unsolicited", "home agent"),
    ("drop.proxy_na_no_source", "drop.proxy.na_no_source", "home agent"),
    ("tunnel_error_relayed.<message>", "tunnel_error.relayed.<message>", "home agent"),
    ("drop.tunnel_error_bad_inner", "drop.tunnel_error.bad_inner", "home agent"),
    ("drop.tunnel_multicast_membership", "drop.tunnel.multicast_membership", "home agent"),
    ("drop.own_packet_too_big_for_tunnel", "drop.tunnel.own_packet_too_big", "home agent"),
    ("drop.tunnel_no_route", "drop.tunnel.no_route", "home agent"),
    ("drop.tunnel_slow_path", "drop.tunnel.slow_path", "home agent"),
    ("drop.mobile_node_link_local", "drop.tunnel.mobile_node_link_local", "home agent"),
    ("hao_swapped", "hao.swapped", "correspondent"),
    ("rh2_inserted", "rh2.inserted", "correspondent"),
    ("drop.send_too_big_for_rh2", "drop.rh2.send_too_big", "correspondent"),
    ("drop.rh2_not_a_mobile_node", "drop.rh2.not_a_mobile_node", "correspondent"),
    ("drop.datapath.<REASON>", "drop.datapath.<reason>", "mobile node (lowercase, as elsewhere)"),
    ("drop.mn.<kernel>.<REASON>", "drop.mn.<kernel>.<reason>", "mobile node"),
)

_ROLE_TITLES = {"node": "Every node (node.py, neighbor.py; hosts have exactly these)", "router": "Router (router.py)",
                "home_agent": "Home agent (home_agent/)", "correspondent": "Correspondent node (correspondent/)",
                "mobile_node": "Mobile node (mobile_node.py and its parts)", "fleet": "Mobile node fleet (fleet.py)",
                "protection": ("Protection of home registrations, home agent and mobile node alike (protection.py: "
                               "ESP; mn_ha_auth.py: RFC 4285)")}

_SHARED_TITLES = {"protection": "Protection of home registrations and of the reverse tunnel (protection.py)"}


def table_for(role: str) -> CounterTable:
    """The table of ``role`` (``node``, ``router``, ``home_agent``/``ha``, ``correspondent``/``cn``,
    ``mobile_node``/``mn``, ``fleet``, ``host``); KeyError for anything else."""
    return ROLE_TABLES[ALIASES.get(role, role)]


def _values(decl) -> str:
    if decl.values is None:
        return ""
    vals = sorted(decl.values, key=lambda v: (len(v), v) if v.isdigit() else (0, v))
    listed = len(vals) <= 12 or all(v.isdigit() for v in vals)     # statuses and codes are always listed
    return " (" + ", ".join(vals) + ")" if listed else f" ({len(vals)} values, checked)"


def render_markdown() -> str:
    out = ["# Counters", "",
           "<!-- GENERATED by `mip6fast counters --markdown > docs/COUNTERS.md` from the declarations;",
           "     do not edit by hand (tests/test_counters.py checks it). -->", "",
           "Every counter a role increments is declared once, with its meaning, in the role's table",
           "(`mip6fast/roles/counters.py` is the mechanism). Names are lowercase dotted",
           "`<area>.<event>[.<detail>]`; the same event has the same name in every role. A `<part>` is a",
           "family: its values, when listed, are the only ones allowed. An undeclared name raises in the",
           "tests (and with `MIP6FAST_STRICT_COUNTERS=1`); otherwise it is counted and also under",
           "`counters.undeclared`. `mip6fast counters ROLE` prints a table offline; `mip6fast stats",
           "--describe` prints a running daemon's counters with their meanings.", ""]
    # The role tables, then the shared tables they name that are no role's own (protection).
    tables = list(ROLE_TABLES.items())
    for table in ROLE_TABLES.values():
        for base in table.bases:
            if base.role not in ROLE_TABLES and all(base is not t for _, t in tables):
                tables.append((base.role, base))
    for role, table in tables:
        own = sorted(table.own, key=lambda d: d.name)
        bases = ", ".join(f"`{b.role}`" for b in table.bases)
        out += [f"## {_ROLE_TITLES[role]}: `{role}`", "",
                f"{len(table)} declarations in all; {len(own)} of its own"
                + (f", the rest from {bases}." if bases else "."),
                "", "| counter | meaning |", "|---|---|"]
        out += [f"| `{d.name}` | {d.meaning}{_values(d)} |" for d in own]
        out.append("")
    # Tables that are no role's own but the base of some (the protection of the home agent and the
    # mobile node): listed once, with the roles that count them.
    roles = list(ROLE_TABLES.values())
    for shared in dict.fromkeys(b for t in roles for b in t.bases if b not in roles):
        users = ", ".join(f"`{t.role}`" for t in roles if shared in t.bases)
        out += [f"## {_SHARED_TITLES.get(shared.role, shared.role)}: `{shared.role}`", "",
                f"{len(shared)} declarations, counted by {users}.", "", "| counter | meaning |", "|---|---|"]
        out += [f"| `{d.name}` | {d.meaning}{_values(d)} |" for d in sorted(shared.own, key=lambda d: d.name)]
        out.append("")
    out += ["## Renamed", "", "The names before the declarations, and now (values unchanged; where two old",
            "names became one, the new one is their sum).", "", "| old | new | role |", "|---|---|---|"]
    out += [f"| `{old}` | `{new}` | {role} |" for old, new, role in RENAMES]
    return "\n".join(out) + "\n"

