# cython: language_level=3
"""Where ESP goes in an IPv6 packet and where it is in a received one (csrc/mip6_esp.c), for
mip6fast/security/esp.py. Twin: _esp_py.py (same results, same ParseError fields, reasons, offsets)."""
from libc.stdint cimport uint8_t

from common cimport MIP6_OK, mip6_err_t
from esp cimport MIP6_ESP_TUNNEL, MIP6_ESP_UNPROTECT, mip6_esp_layout, mip6_esp_layout_t

include "_errors.pxi"


def layout(bytes packet not None, bint unprotect, bint tunnel=False):
    """(at, nh_at, next_header, src, dst) of ``packet`` (csrc/mip6_esp.h says what each is), or
    ParseError. ``unprotect``: the packet was received and must carry ESP; else it is to be protected,
    in tunnel mode if ``tunnel``."""
    cdef mip6_esp_layout_t out
    cdef mip6_err_t err
    cdef unsigned flags = (MIP6_ESP_UNPROTECT if unprotect else 0) | (MIP6_ESP_TUNNEL if tunnel else 0)
    cdef const uint8_t *p = <const uint8_t *>(<char *>packet)
    cdef size_t n = len(packet)
    cdef int rc
    with nogil:
        rc = mip6_esp_layout(p, n, flags, &out, &err)
    if rc != MIP6_OK:
        raise _parse_error(&err)
    return (out.at, out.nh_at, out.next_header, out.src, out.dst)
