/* TUN devices: the application side of a node (issue 5). The kernel's applications send and receive
 * plain IPv6 packets through a TUN interface; the engine reads and writes them a batch at a time.
 *
 * A TUN file descriptor carries one packet per read()/write() (IFF_TUN | IFF_NO_PI: no packet-info
 * prefix, the bytes are the IPv6 packet). Reads land in a batch's slots after the headroom, so the
 * data-path kernels can prepend the tunnel header in place. */
#ifndef MIP6_TUN_H
#define MIP6_TUN_H

#include "mip6_batch.h"

#define MIP6_TUN_NAME_MAX 16 /* IFNAMSIZ, including the terminating NUL */

/* Opens /dev/net/tun and attaches it to the TUN interface `name` (created if missing; a name with "%d"
 * lets the kernel pick the number). Non-blocking, close-on-exec. On success returns the descriptor and
 * writes the interface's actual name to name_out; on failure returns -1 and *errno_out says why
 * (ENOENT: no /dev/net/tun; EPERM: needs CAP_NET_ADMIN; EBUSY: the interface is in use; EINVAL: a bad
 * name). */
MIP6_API int mip6_tun_open(const char *name, char name_out[MIP6_TUN_NAME_MAX], int *errno_out);

/* What a batch read or write did. */
typedef struct mip6_tun_stats {
    uint64_t packets, bytes;
    uint64_t truncated; /* a packet filled its whole slot: it may have been cut, so it was dropped */
    uint64_t errors;    /* read()/write() failed with something other than EAGAIN; errno_last says what */
    int errno_last;
} mip6_tun_stats_t;

/* Reads packets into slots count..capacity-1 of the batch until the descriptor has no more (EAGAIN) or
 * the batch is full: each one at offset slot * slot_size + headroom, verdict PASS, reason NONE. Returns
 * how many were appended (b->count grows by that much). A packet that fills its slot is counted as
 * truncated and its slot reused. Never blocks. */
MIP6_API uint32_t mip6_tun_read_batch(int fd, mip6_batch_t *b, uint32_t capacity, mip6_tun_stats_t *st);

/* Writes the batch's packets whose verdict is `verdict` (every packet when verdict < 0) in order, one
 * write() each. Stops at the first EAGAIN (the device queue is full) and returns the index of the first
 * packet not written (b->count when all were); other errors are counted and that packet skipped. */
MIP6_API uint32_t mip6_tun_write_batch(int fd, const mip6_batch_t *b, int verdict, mip6_tun_stats_t *st);

#endif
