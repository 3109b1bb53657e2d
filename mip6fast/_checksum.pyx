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


def checksum_batch(const unsigned char[::1] buf, const unsigned int[::1] offsets,
                   const unsigned int[::1] lengths, unsigned short[::1] out):
    """RFC 1071 checksums of many packets in one contiguous buffer, one C loop for the batch.

    Packet i is buf[offsets[i]:offsets[i] + lengths[i]]; its checksum goes to out[i]. Every range is
    checked against the buffer before any is summed (ValueError names the first bad one)."""
    cdef Py_ssize_t n = offsets.shape[0], i
    cdef size_t size = buf.shape[0]
    if lengths.shape[0] != n or out.shape[0] < n:
        raise ValueError("offsets, lengths and out must describe the same number of packets")
    for i in range(n):
        if <size_t>offsets[i] + <size_t>lengths[i] > size:
            raise ValueError(f"packet {i} runs past the buffer")
    cdef const unsigned char *base = &buf[0] if size else NULL
    with nogil:
        for i in range(n):
            out[i] = <unsigned short>~mip6_csum_fold(mip6_csum_add(0, base + offsets[i], lengths[i]))
