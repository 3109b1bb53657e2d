"""Sans-I/O protocol roles (docs/ROLES.md): nodes that take frames, time and carrier events and return
``Output`` (frames to send, packets for applications, notifications, the next timer deadline).

Roles never import ``mip6fast.io``; the simulator (``mip6fast.sim``) and, later, the daemons drive them.
Each role's own notifications (``BindingCreated``, ``Registered``, ``Moved``, ...) live in its module.
"""
from .correspondent import CorrespondentConfig, CorrespondentNode
from .events import Notification, Output, Timer, TimerHeap, Transmit
from .home_agent import HomeAgent, HomeAgentConfig
from .host import Application, Host
from .interface import (
    AddressState,
    Interface,
    InterfaceAddress,
    eui64_interface_id,
    link_local_address,
    slaac_address,
)
from .mobile_node import HomeAddressConfig, MobileNode, MobileNodeConfig
from .neighbor import (
    AddressDuplicate,
    AddressReady,
    AddressRemoved,
    Neighbor,
    NeighborDiscovery,
    NeighborState,
    NeighborUnreachable,
    PrefixAdded,
    PrefixRemoved,
    RouterOverdue,
    RouterReachable,
    RouterUnreachable,
)
from .node import Node, Route
from .router import AdvertisingConfig, Router

__all__ = [
    "AddressDuplicate", "AddressReady", "AddressRemoved", "AddressState", "AdvertisingConfig",
    "Application", "CorrespondentConfig", "CorrespondentNode", "HomeAddressConfig", "HomeAgent",
    "HomeAgentConfig", "Host", "MobileNode", "MobileNodeConfig", "Interface", "InterfaceAddress", "Neighbor",
    "NeighborDiscovery",
    "NeighborState", "NeighborUnreachable", "Node", "Notification", "Output", "PrefixAdded",
    "PrefixRemoved", "Route", "Router", "RouterOverdue", "RouterReachable", "RouterUnreachable", "Timer",
    "TimerHeap", "Transmit", "eui64_interface_id", "link_local_address", "slaac_address",
]
