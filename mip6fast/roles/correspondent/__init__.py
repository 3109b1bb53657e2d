"""The Mobile IPv6 correspondent node (RFC 6275 §9), one module per concern:

- ``node.py``: ``CorrespondentNode``, the node (a ``Host``) and how the parts below fit; Mobility Header
  reception (§9.2) and the node without Mobile IPv6 (``mobility_support=False``).
- ``config.py``: ``CorrespondentConfig``, MAX_RR_BINDING_LIFETIME, DEFAULT_MAX_BINDINGS, the default
  acceptance check.
- ``bindings.py``: Binding Updates and Acknowledgements, the sequence rule through the binding cache,
  expiry and Binding Refresh Requests (§9.5); ``BindingRefreshRequested``.
- ``datapath.py``: received frames through the Home Address option kernel (§9.3.1), originated packets
  through the Type 2 routing header kernel (§9.3.2).
- ``error_messages.py``: Binding Errors and ICMPv6 Parameter Problems under one rate limit;
  ``BindingErrorSent``.
- ``packets.py``: packets read from their bytes (``walk``, ``strip_home_address_option``).

The names below are the correspondent node's public face (``from mip6fast.roles.correspondent import
...``); the binding notifications are shared with the home agent (``roles/binding_events.py``).
"""
from ..binding_events import BindingCreated, BindingDeleted, BindingExpired, BindingUpdated
from .bindings import BindingRefreshRequested
from .config import DEFAULT_MAX_BINDINGS, MAX_RR_BINDING_LIFETIME, CorrespondentConfig, accept_every_binding_update
from .error_messages import BindingErrorSent
from .node import CorrespondentNode

__all__ = [
    "DEFAULT_MAX_BINDINGS", "MAX_RR_BINDING_LIFETIME", "BindingCreated", "BindingDeleted", "BindingErrorSent",
    "BindingExpired", "BindingRefreshRequested", "BindingUpdated", "CorrespondentConfig", "CorrespondentNode",
    "accept_every_binding_update",
]
