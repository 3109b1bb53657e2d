/* AF_PACKET ring I/O: an interface's frames in and out of packet batches without a per-packet system
 * call or a per-packet Python object (docs/RING.md).
 *
 * Two ring formats. TPACKET_V3 (the default) as below. TPACKET_V2 (cfg.version = 2) has fixed-size
 * receive frames at a fixed stride, so the frames the kernel has filled are already laid out as a
 * batch (slot i = frame first + i): mip6_ring_rx_window hands them out where they lie, the data path
 * rewrites them in place, and the only copy is the one into a transmit ring (mip6_ring_send);
 * mip6_ring_rx_release gives them back. PACKET_RESERVE (cfg.rx_reserve) leaves room in front of every
 * received frame for the headers a tunnel prepends.
 *
 * One socket per ring, bound to one interface. Receive: a TPACKET_V3 ring of blocks the kernel fills
 * with frames and hands over whole; mip6_ring_recv copies the frames of every ready block into a
 * batch in one call and gives each block back once all its frames are copied. Transmit: a ring of
 * fixed-size frames (TPACKET_V3 too: a socket has a single version for both its rings, and V3 TX needs
 * Linux 4.11); mip6_ring_send fills frames from a batch and kicks the kernel once with sendto.
 *
 * Frames are whole link-layer frames (SOCK_RAW: Ethernet header included). A received frame lands at
 * the batch's headroom in its slot, so a caller that strips the Ethernet header (offset += 14) keeps it
 * as headroom for the outer header a tunnel kernel prepends.
 *
 * Errors: every function returns a negative MIP6_RING_E* code and fills a mip6_ring_err_t with the
 * step that failed, a static explanation and the errno, so the Python side can name the interface and
 * the cause ("no such interface", "needs CAP_NET_RAW", "the kernel refused the ring geometry"). */
#ifndef MIP6_RING_H
#define MIP6_RING_H

#include "mip6_common.h"
#include "mip6_batch.h"

#define MIP6_RING_ENOIF     (-10) /* no interface by that name */
#define MIP6_RING_EPERM     (-11) /* socket/bind refused: needs CAP_NET_RAW */
#define MIP6_RING_EGEOMETRY (-12) /* ring geometry refused (by our checks, or by the kernel: errno set) */
#define MIP6_RING_ESYS      (-13) /* another system call failed: errno says why */
#define MIP6_RING_EINVAL    (-14) /* bad argument (closed ring, no RX/TX ring, option out of range) */

/* PACKET_FANOUT modes offered (linux/if_packet.h values). */
#define MIP6_RING_FANOUT_NONE (-1)
#define MIP6_RING_FANOUT_HASH 0 /* by flow hash: one flow always to the same member */
#define MIP6_RING_FANOUT_LB   1 /* round robin */
#define MIP6_RING_FANOUT_CPU  2 /* by the CPU the frame arrived on */

/* Defaults: 64 blocks of 64 KiB (4 MiB) receive, 1024 frames of 2 KiB (2 MiB) transmit, blocks retired
 * after 2 ms even when not full so a trickle of frames is not held back. */
#define MIP6_RING_DEFAULT_BLOCK_SIZE    (1u << 16)
#define MIP6_RING_DEFAULT_BLOCK_COUNT   64u
#define MIP6_RING_DEFAULT_FRAME_SIZE    2048u
#define MIP6_RING_DEFAULT_BLOCK_TIMEOUT 2u
#define MIP6_RING_DEFAULT_TX_FRAMES     1024u
/* TPACKET_V2 receive frames: PACKET_RESERVE bytes so that the IPv6 header of a received frame lands
 * 256 bytes into its frame (the kernel puts it at TPACKET_ALIGN(52 + 16) + reserve = 80 + reserve),
 * leaving 190 bytes between the frame header and the Ethernet header for what a kernel prepends
 * (the largest, an ESP tunnel with its Ethernet header, is 78). */
#define MIP6_RING_V2_DEFAULT_RESERVE    176u

typedef struct mip6_ring_cfg {
    int rx, tx;                 /* which rings to set up (at least one) */
    uint32_t block_size;        /* RX block, bytes: a multiple of the page size (the kernel checks) */
    uint32_t block_count;
    uint32_t frame_size;        /* RX frame size the kernel is told (V3 frames are packed; it bounds
                                 * the largest frame) and TX frame slot size: 16-byte aligned */
    uint32_t block_timeout_ms;  /* RX: retire a partly filled block after this long (0: kernel default) */
    uint32_t tx_frame_count;    /* TX frames (a multiple of the frames in one page-rounded TX block) */
    int qdisc_bypass;           /* PACKET_QDISC_BYPASS: TX frames go straight to the driver */
    int ignore_outgoing;        /* PACKET_IGNORE_OUTGOING: do not receive frames this host sends */
    int fanout_mode;            /* MIP6_RING_FANOUT_*: join a PACKET_FANOUT group */
    uint16_t fanout_group;
    int version;                /* 3: TPACKET_V3 (default); 2: TPACKET_V2, receive in place */
    uint32_t rx_reserve;        /* PACKET_RESERVE: bytes the kernel leaves before each received frame's
                                 * network header (V2; 0 with V3) */
} mip6_ring_cfg_t;

typedef struct mip6_ring_err {
    int code;            /* MIP6_RING_E*, or 0 */
    int sys_errno;       /* errno of the failed call, or 0 when our own check failed */
    const char *step;    /* the call or check that failed, e.g. "setsockopt(PACKET_RX_RING)" */
    const char *reason;  /* static explanation */
} mip6_ring_err_t;

/* Counters kept by the ring itself (the kernel's PACKET_STATISTICS are read separately). */
typedef struct mip6_ring_counters {
    uint64_t rx_frames, rx_bytes;
    uint64_t rx_oversize;   /* frames larger than a batch slot's room, or cut short by the kernel:
                             * dropped and counted, never truncated silently */
    uint64_t rx_blocks;     /* blocks handed back to the kernel */
    uint64_t tx_frames, tx_bytes;
    uint64_t tx_rejected;   /* packets not queued: shorter than an Ethernet header, longer than a TX
                             * frame or the interface MTU allows, or outside their slot */
    uint64_t tx_kicks;      /* sendto calls */
    uint64_t tx_full;       /* times the TX ring was found full and had to be waited for */
    uint64_t tx_wrong_format; /* frames the kernel marked TP_STATUS_WRONG_FORMAT */
    uint64_t rx_outgoing;   /* frames this host sent, seen by a fanout member on a kernel without
                             * PACKET_FANOUT_FLAG_IGNORE_OUTGOING: skipped (ignore_outgoing) */
    uint64_t rx_windows;    /* V2: windows handed out in place (mip6_ring_rx_window) */
} mip6_ring_counters_t;

typedef struct mip6_ring {
    int fd;
    int ifindex;
    uint32_t mtu;
    uint8_t *map;          /* RX ring then TX ring, one mapping */
    size_t map_len;
    int version;           /* TPACKET_V2 or TPACKET_V3 (linux/if_packet.h values: 1, 2) */
    /* receive */
    uint8_t *rx_ring;
    uint32_t rx_block_size, rx_block_count;
    uint32_t rx_block;     /* the block being read */
    uint32_t rx_left;      /* frames of it not yet copied (0: not started) */
    uint32_t rx_next;      /* offset in the block of the next frame to copy */
    uint32_t rx_frame_size, rx_frame_count; /* V2: frame k at rx_ring + k * rx_frame_size */
    uint32_t rx_head;      /* V2: the next frame to read */
    uint32_t rx_held;      /* V2: frames of the window handed out and not yet released */
    /* transmit */
    uint8_t *tx_ring;
    uint32_t tx_frame_size, tx_frame_count, tx_frames_per_block, tx_block_size;
    uint32_t tx_data_off;  /* where the kernel reads a TX frame's data: after the aligned header */
    uint32_t tx_head;      /* the next frame to fill */
    uint32_t tx_pending;   /* frames filled since the last kick */
    /* PACKET_STATISTICS resets on every read: the totals so far */
    uint64_t st_packets, st_drops, st_freeze;
    mip6_ring_counters_t c;
    int skip_outgoing;     /* ignore_outgoing: also skip PACKET_OUTGOING frames as they are read */
} mip6_ring_t;

typedef struct mip6_ring_stats {
    uint64_t packets;       /* frames the socket saw (the kernel's tp_packets: received plus dropped) */
    uint64_t drops;         /* frames the kernel dropped because the ring was full */
    uint64_t freeze_count;  /* times the RX ring was completely full (the queue froze) */
    mip6_ring_counters_t c;
} mip6_ring_stats_t;

typedef struct mip6_reflect_result {
    uint64_t rx_frames, tx_frames, bytes, dropped; /* dropped: received but not sent (TX ring stayed full
                                                    * or the frame does not fit a TX frame) */
    uint64_t elapsed_ns;
} mip6_reflect_result_t;

MIP6_API void mip6_ring_cfg_default(mip6_ring_cfg_t *cfg);

/* Opens and maps the rings and binds to ifname. r is zeroed first; on error everything is released. */
MIP6_API int mip6_ring_open(mip6_ring_t *r, const char *ifname, const mip6_ring_cfg_t *cfg,
                            mip6_ring_err_t *err);

/* Copies up to max frames into b's slots start..start+max-1 (the caller keeps them inside the slab;
 * each frame headroom bytes into its slot; offset, length set; verdict PASS, reason NONE, aux = the
 * frame's sll_pkttype: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing). When no frame is
 * ready, waits up to timeout_ms with poll (-1: no limit, 0: do not wait). Returns the count (b->count
 * is not touched), or a negative code. */
MIP6_API int mip6_ring_recv(mip6_ring_t *r, mip6_batch_t *b, uint32_t start, uint32_t max, int timeout_ms,
                            mip6_ring_err_t *err);

/* TPACKET_V2 only: the frames ready at the receive head, in place. Sets b->buf to the first frame,
 * b->slot_size to the frame size, b->headroom to the first frame's Ethernet header offset, b->count to
 * n, and fills b's columns (the caller's, with room for max entries) as mip6_ring_recv does, offsets
 * relative to b->buf; *first gets the ring index of the first frame. A window never wraps (it ends at
 * the ring's last frame) and holds only whole frames: a frame cut short or too large for its frame,
 * or an outgoing one being skipped, ends the window before it and is counted and given back at the
 * start of the next. The frames are the caller's to read and rewrite (anywhere in their frame after
 * the 52-byte frame header the kernel wrote: the headroom) until mip6_ring_rx_release; a second window
 * before that is refused. Waits as mip6_ring_recv when none is ready. Returns n or a negative code. */
MIP6_API int mip6_ring_rx_window(mip6_ring_t *r, mip6_batch_t *b, uint32_t max, int timeout_ms, uint32_t *first,
                                 mip6_ring_err_t *err);

/* Gives the window's frames back to the kernel (no-op without one). */
MIP6_API void mip6_ring_rx_release(mip6_ring_t *r);

/* Queues packets 0..b->count-1 (only those whose verdict is `verdict`, or all when verdict < 0) into TX
 * frames and kicks the kernel once. A full ring is kicked and waited for with poll up to timeout_ms in
 * total; what still does not fit is not queued. Returns the number queued (a packet refused because of
 * its size is counted in tx_rejected, not returned), or a negative code. */
MIP6_API int mip6_ring_send(mip6_ring_t *r, const mip6_batch_t *b, int verdict, int timeout_ms,
                            mip6_ring_err_t *err);

/* Frames still waiting in the TX ring for the kernel (queued, not yet completed). */
MIP6_API uint32_t mip6_ring_tx_in_flight(const mip6_ring_t *r);

MIP6_API int mip6_ring_stats(mip6_ring_t *r, mip6_ring_stats_t *st, mip6_ring_err_t *err);

/* Closes the socket but keeps the mapping (a caller still holds views of it); mip6_ring_close later
 * unmaps. */
MIP6_API void mip6_ring_shutdown(mip6_ring_t *r);

/* Unmaps and closes; safe to call twice. */
MIP6_API void mip6_ring_close(mip6_ring_t *r);

/* The raw I/O baseline (rx a TPACKET_V3 ring): frames received on rx go out of tx unchanged (rx and tx may be the same ring),
 * ring to ring with no batch in between, one kick per RX block. Runs until max_frames frames were
 * received (0: no limit) or duration_ns passed. */
MIP6_API int mip6_ring_reflect(mip6_ring_t *rx, mip6_ring_t *tx, uint64_t max_frames, uint64_t duration_ns,
                               mip6_reflect_result_t *res, mip6_ring_err_t *err);

#endif
