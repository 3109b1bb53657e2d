# cython: language_level=3
"""Where ESP goes in an IPv6 packet and where it is in a received one (csrc/mip6_esp.c), for
mip6fast/security/esp.py. Twin: _esp_py.py (same results, same ParseError fields, reasons, offsets)."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t

from common cimport MIP6_OK, mip6_err_t
from esp cimport (MIP6_ESP_TUNNEL, MIP6_ESP_UNPROTECT, mip6_esp_layout, mip6_esp_layout_t, mip6_esp_splice,
                  mip6_esp_trailer)

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


def trailer(bytes plaintext not None):
    """(next header, data length) of a decrypted ESP payload (RFC 4303 §2.4), or ParseError (field
    "padding")."""
    cdef mip6_err_t err
    cdef size_t data_len = 0
    cdef uint8_t nh = 0
    cdef int rc = mip6_esp_trailer(<const uint8_t *>PyBytes_AS_STRING(plaintext), len(plaintext), &data_len,
                                   &nh, &err)
    if rc != MIP6_OK:
        raise _parse_error(&err)
    return nh, data_len


def splice(bytes p not None, Py_ssize_t at, Py_ssize_t nh_at, int next_header, bytes a not None,
           Py_ssize_t a_length=-1, bytes b not None=b""):
    """p[:at] + a[:a_length] + b (a_length -1: all of a), with the byte at nh_at set to next_header and
    the Payload Length to what the result carries; ValueError for positions that make no such packet."""
    cdef mip6_err_t err
    if a_length < 0:
        a_length = len(a)
    if not (0 <= nh_at < at <= len(p)) or a_length > len(a) or not 0 <= next_header <= 255:
        raise ValueError(f"splice: at {at}, nh_at {nh_at}, a_length {a_length}, next header {next_header} "
                         f"do not fit a {len(p)}-byte packet and a {len(a)}-byte part")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, at + a_length + len(b))
    cdef int rc = mip6_esp_splice(<const uint8_t *>PyBytes_AS_STRING(p), at, nh_at, <uint8_t>next_header,
                                  <const uint8_t *>PyBytes_AS_STRING(a), a_length,
                                  <const uint8_t *>PyBytes_AS_STRING(b), len(b),
                                  <uint8_t *>PyBytes_AS_STRING(out), &err)
    if rc != MIP6_OK:
        raise ValueError(f"splice: {err.field.decode()}: {err.reason.decode()}")
    return out
