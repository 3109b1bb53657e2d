# Included by the Cython skins: turn a filled mip6_err_t into the package's ParseError.
from mip6fast.errors import ParseError

cdef inline object _parse_error(mip6_err_t *err, size_t base=0):
    field = err.field.decode() if err.field != NULL else "packet"
    reason = err.reason.decode() if err.reason != NULL else "malformed"
    return ParseError(reason, field, err.offset + base)
