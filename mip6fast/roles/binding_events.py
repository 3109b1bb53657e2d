"""Notifications about binding cache entries, shared by the nodes that keep a binding cache: the home
agent (home registrations, RFC 6275 §10.3) and the correspondent node (route optimisation, §9.5)."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address

from .events import Notification

__all__ = ["BindingCreated", "BindingDeleted", "BindingExpired", "BindingUpdated"]


@dataclass(frozen=True)
class BindingCreated(Notification):
    home_address: IPv6Address
    care_of_address: IPv6Address
    lifetime: int                       # seconds granted


@dataclass(frozen=True)
class BindingUpdated(Notification):
    home_address: IPv6Address
    care_of_address: IPv6Address
    lifetime: int                       # seconds granted


@dataclass(frozen=True)
class BindingDeleted(Notification):
    """A de-registration removed the entry (§9.5.3, §10.3.2)."""
    home_address: IPv6Address


@dataclass(frozen=True)
class BindingExpired(Notification):
    home_address: IPv6Address
