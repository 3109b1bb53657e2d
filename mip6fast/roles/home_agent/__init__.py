"""The Mobile IPv6 home agent (RFC 6275 §10), one module per concern:

- ``agent.py``: ``HomeAgent``, the node (a ``Router`` on the home link) and how the parts below fit;
  Mobility Header reception (§9.2, §6.1, §9.3.1) and renumbering (§10.6.1).
- ``config.py``: ``HomeAgentConfig``.
- ``home_link.py``: the home link, its home prefixes and their Home-Agents anycast addresses.
- ``registration.py``: Binding Updates and Acknowledgements, the sequence rule through the binding
  cache, lifetimes, expiry and Binding Refresh Requests (§10.3, §9.5.1); ``RegistrationRejected``.
- ``dad.py``: duplicate address detection for home addresses before a first registration (§10.3.1).
- ``proxy_nd.py``: proxy neighbour discovery for bound home addresses (§10.4.1).
- ``datapath.py``: the data path: batches through the tunnelling kernels (§10.4.2-10.4.5).
- ``error_messages.py``: Binding Errors (§9.3.3), ICMPv6 errors, tunnel errors relayed (RFC 2473 §8).
- ``discovery.py``: the home agents list and DHAAD replies (§10.5); ``HomeAgentEntry``.
- ``mobile_prefix.py``: Mobile Prefix Solicitations and Advertisements (§10.6).
- ``journal.py``: write-through to the binding store, BAs after the commit, recovery at start
  (issue 13); ``StoreFailed``, ``BindingsRecovered``.

The names below are the home agent's public face (``from mip6fast.roles.home_agent import ...``); the
binding notifications are shared with the correspondent node (``roles/binding_events.py``).
"""
from ..binding_events import BindingCreated, BindingDeleted, BindingExpired, BindingUpdated
from .agent import HomeAgent
from .config import HomeAgentConfig
from .discovery import HomeAgentEntry
from .journal import BindingsRecovered, StoreFailed
from .registration import RegistrationRejected

__all__ = [
    "BindingCreated", "BindingDeleted", "BindingExpired", "BindingUpdated", "BindingsRecovered", "HomeAgent",
    "HomeAgentConfig", "HomeAgentEntry", "RegistrationRejected", "StoreFailed",
]
