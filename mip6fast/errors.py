"""The package's exceptions: one root, and the parse error every codec raises."""


class Mip6Error(Exception):
    """Root of every exception mip6fast raises on purpose."""


class ParseError(Mip6Error, ValueError):
    """Bytes that are not a well-formed packet.

    ``field`` names the field at fault and ``offset`` is its byte offset from the start of the buffer
    that was parsed (for a whole packet: from the first byte of the IPv6 header), so a caller can point
    an ICMPv6 Parameter Problem at it (RFC 6275 §9.2).
    """

    def __init__(self, reason: str, field: str, offset: int):
        self.reason = reason
        self.field = field
        self.offset = offset
        super().__init__(f"{field} at offset {offset}: {reason}")

    def rebase(self, base: int) -> "ParseError":
        """The same error, with the offset counted from ``base`` bytes earlier."""
        return ParseError(self.reason, self.field, self.offset + base)

    def __reduce__(self):
        return (ParseError, (self.reason, self.field, self.offset))

    def __eq__(self, other):
        if not isinstance(other, ParseError):
            return NotImplemented
        return (self.reason, self.field, self.offset) == (other.reason, other.field, other.offset)

    def __hash__(self):
        return hash((self.reason, self.field, self.offset))
