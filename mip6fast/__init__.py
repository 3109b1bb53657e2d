"""mip6fast: Mobile IPv6 (RFC 6275) with C wire codecs, binding cache and batched data path.

The wire layer is ``mip6fast.wire``; the engine's hot path is ``BindingCache``, ``PacketBatch`` and the
``*DataPath`` classes below (one C call per batch)."""
from .batch import DropReason, PacketBatch, Verdict
from .binding_cache import Binding, BindingCache, Outcome, UpdateResult
from .datapath import CorrespondentDataPath, HomeAgentDataPath, MobileNodeDataPath
from .errors import Mip6Error, ParseError

__version__ = "0.1.0"
__all__ = [
    "Binding", "BindingCache", "CorrespondentDataPath", "DropReason", "HomeAgentDataPath", "Mip6Error",
    "MobileNodeDataPath", "Outcome", "PacketBatch", "ParseError", "UpdateResult", "Verdict", "__version__",
]
