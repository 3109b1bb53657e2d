"""The counters of the mobile node fleet (``fleet.MobileFleet``), declared once (``roles.counters``)."""
from __future__ import annotations

from .counters import CounterTable, declare
from .node_counters import BA_STATUSES, NODE_COUNTERS
from .registration import exchange_counters

__all__ = ["FLEET_COUNTERS"]

FLEET_COUNTERS = CounterTable("fleet", (*declare(
    ("fleet.registered", "mobile nodes of the fleet registered with the home agent"),
    ("fleet.refreshed", "registrations refreshed"),
    ("fleet.bu_refresh", "refreshing BUs started before a lifetime ran out"),
    ("fleet.binding_expired", "registrations whose lifetime ran out"),
    ("fleet.brr_received", "Binding Refresh Requests answered with a new BU (§11.7.4)"),
    ("fleet.na_sent", "NAs sent for the fleet's care-of addresses"),
    ("fleet.ba_rejected.<status>", "BAs refusing a registration, by status", BA_STATUSES),
    ("drop.fleet.mh_bad_addresses", "a Mobility Header to no member's care-of address"),
    ("drop.fleet.brr_not_registered", "a Binding Refresh Request for no registered member"),
    ("drop.fleet.unexpected_packet", "a packet the fleet does not take"),
    ("drop.fleet.ns_hop_limit", "an NS with a hop limit other than 255"),
    ("drop.fleet.ba_zero_lifetime", "a BA accepted with no lifetime"),
), *exchange_counters("fleet")), bases=(NODE_COUNTERS,))
