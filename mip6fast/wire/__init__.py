"""Mobile IPv6 on the wire: readable, immutable message objects over the C codecs.

``Packet`` and ``parse`` are the entry points; every Mobility Header message and option
(``mobility``) and every ICMPv6 / neighbour-discovery message and option (``icmpv6``) is importable
from here."""
from ..errors import ParseError
from . import icmpv6, mobility
from .icmpv6 import *  # noqa: F403  (names listed in icmpv6.__all__)
from .mobility import *  # noqa: F403  (names listed in mobility.__all__)
from .packet import IPv6Option, Packet, Raw, parse

__all__ = (["IPv6Option", "Packet", "ParseError", "Raw", "parse"]
           + [n for n in mobility.__all__ if n != "CODEC"] + [n for n in icmpv6.__all__ if n != "CODEC"])
