# cython: language_level=3
"""Internet checksums in C (csrc/mip6_checksum.c). Twin: _checksum_py.py."""
from checksum cimport mip6_csum_add, mip6_csum_fold, mip6_csum_upper, mip6_csum_replace


def checksum(const unsigned char[::1] data):
    """RFC 1071 checksum of data (the value to store; 0 over data that carries a correct one)."""
    cdef size_t n = data.shape[0]
    cdef const unsigned char *p = &data[0] if n else NULL
    cdef unsigned short r
    with nogil:
        r = <unsigned short>~mip6_csum_fold(mip6_csum_add(0, p, n))
    return r


def pseudo_checksum(const unsigned char[::1] src, const unsigned char[::1] dst, int next_header,
                    const unsigned char[::1] data):
    """Checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and data."""
    if src.shape[0] != 16 or dst.shape[0] != 16:
        raise ValueError("src and dst must be 16-byte addresses")
    if not 0 <= next_header <= 255:
        raise ValueError("next_header must be 0..255")
    cdef size_t n = data.shape[0]
    if n > 0xffffffff:
        raise ValueError("data longer than an IPv6 upper-layer length can say")
    cdef const unsigned char *p = &data[0] if n else NULL
    cdef unsigned short r
    with nogil:
        r = mip6_csum_upper(&src[0], &dst[0], <unsigned char>next_header, p, n)
    return r


def replace(int old_checksum, const unsigned char[::1] old, const unsigned char[::1] new):
    """RFC 1624 incremental update of old_checksum after `old` bytes became `new` (even length)."""
    if old.shape[0] != new.shape[0] or old.shape[0] % 2:
        raise ValueError("old and new must have the same even length")
    if not 0 <= old_checksum <= 0xffff:
        raise ValueError("old_checksum must be 0..65535")
    cdef size_t n = old.shape[0]
    if n == 0:
        return old_checksum
    return mip6_csum_replace(<unsigned short>old_checksum, &old[0], &new[0], n)
