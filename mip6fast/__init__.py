"""mip6fast: Mobile IPv6 (RFC 6275) with C wire codecs, binding cache and batched data path."""
from .errors import Mip6Error, ParseError

__version__ = "0.1.0"
__all__ = ["Mip6Error", "ParseError", "__version__"]
