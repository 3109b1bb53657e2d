/* AF_PACKET ring I/O (see mip6_ring.h and docs/RING.md). Linux only. */
#define _GNU_SOURCE
#include "mip6_ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Older kernel headers (manylinux2014 builds against 3.10 headers) lack the newer options; the values
 * are the kernel's ABI. A kernel that lacks one refuses it at run time with ENOPROTOOPT. */
#ifndef PACKET_QDISC_BYPASS
#define PACKET_QDISC_BYPASS 20
#endif
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define ETH_HLEN_ 14u
/* Where a V3 frame's sockaddr_ll sits, and where the kernel reads a TX frame's data from: right after
 * the aligned frame header (af_packet.c tpacket_parse_header: tp_hdrlen - sizeof(sockaddr_ll)). */
#define V3_HDR_ALIGNED ((uint32_t)TPACKET_ALIGN(sizeof(struct tpacket3_hdr)))
#define V2_HDR_ALIGNED ((uint32_t)TPACKET_ALIGN(sizeof(struct tpacket2_hdr)))
/* A V2 frame's header and address: the kernel's tp_hdrlen (TPACKET2_HDRLEN); a received frame's data
 * starts after it. */
#define V2_HDRLEN (V2_HDR_ALIGNED + (uint32_t)sizeof(struct sockaddr_ll))

static int fail(mip6_ring_err_t *err, int code, int sys_errno, const char *step, const char *reason)
{
    if (err) {
        err->code = code;
        err->sys_errno = sys_errno;
        err->step = step;
        err->reason = reason;
    }
    return code;
}

/* The frame header and block descriptor live in the mapping at kernel-chosen, suitably aligned offsets;
 * going through void * says so (and keeps -Wcast-align quiet on strict-alignment targets). */
static inline struct tpacket_block_desc *rx_block_desc(const mip6_ring_t *r, uint32_t k)
{
    return (struct tpacket_block_desc *)(void *)(r->rx_ring + (size_t)k * r->rx_block_size);
}

/* TX frame k (either format: the header's layout is the socket's version). */
static inline uint8_t *tx_frame(const mip6_ring_t *r, uint32_t k)
{
    uint32_t block = k / r->tx_frames_per_block, slot = k % r->tx_frames_per_block;
    return r->tx_ring + (size_t)block * r->tx_block_size + (size_t)slot * r->tx_frame_size;
}

static inline uint32_t *tx_status(const mip6_ring_t *r, uint8_t *f)
{
    if (r->version == TPACKET_V2)
        return &((struct tpacket2_hdr *)(void *)f)->tp_status;
    return &((struct tpacket3_hdr *)(void *)f)->tp_status;
}

static inline struct tpacket2_hdr *rx2_frame(const mip6_ring_t *r, uint32_t k)
{
    return (struct tpacket2_hdr *)(void *)(r->rx_ring + (size_t)k * r->rx_frame_size);
}

/* The status words are shared with the kernel: acquire when reading what it handed over, release when
 * handing a frame or block back so our writes to its bytes are visible first. */
static inline uint32_t load_status(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_status(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mip6_ring_cfg_default(mip6_ring_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->rx = cfg->tx = 1;
    cfg->block_size = MIP6_RING_DEFAULT_BLOCK_SIZE;
    cfg->block_count = MIP6_RING_DEFAULT_BLOCK_COUNT;
    cfg->frame_size = MIP6_RING_DEFAULT_FRAME_SIZE;
    cfg->block_timeout_ms = MIP6_RING_DEFAULT_BLOCK_TIMEOUT;
    cfg->tx_frame_count = MIP6_RING_DEFAULT_TX_FRAMES;
    cfg->qdisc_bypass = 0;
    cfg->ignore_outgoing = 1;
    cfg->fanout_mode = MIP6_RING_FANOUT_NONE;
    cfg->fanout_group = 0;
    cfg->version = 3;
    cfg->rx_reserve = 0;
}

static int set_int(int fd, int opt, int value)
{
    return setsockopt(fd, SOL_PACKET, opt, &value, sizeof value);
}

int mip6_ring_open(mip6_ring_t *r, const char *ifname, const mip6_ring_cfg_t *cfg, mip6_ring_err_t *err)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (err)
        memset(err, 0, sizeof *err);
    if (!cfg->rx && !cfg->tx)
        return fail(err, MIP6_RING_EINVAL, 0, "configuration", "neither a receive nor a transmit ring asked for");
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
        return fail(err, MIP6_RING_ENOIF, 0, "interface name", "not a valid interface name");
    /* Only what the arithmetic below needs is checked here; alignment and sizes are the kernel's to
     * judge (its EINVAL becomes MIP6_RING_EGEOMETRY with the errno). */
    if (cfg->block_size == 0 || cfg->frame_size == 0 || cfg->frame_size > cfg->block_size)
        return fail(err, MIP6_RING_EGEOMETRY, 0, "ring geometry",
                    "block size and frame size must be non-zero, the frame no larger than a block");
    if (cfg->rx && cfg->block_count == 0)
        return fail(err, MIP6_RING_EGEOMETRY, 0, "ring geometry", "the receive ring needs at least one block");
    if (cfg->tx && cfg->tx_frame_count == 0)
        return fail(err, MIP6_RING_EGEOMETRY, 0, "ring geometry", "the transmit ring needs at least one frame");
    if (cfg->version != 2 && cfg->version != 3)
        return fail(err, MIP6_RING_EINVAL, 0, "configuration", "the ring version must be 2 or 3");
    uint32_t tx_off = cfg->version == 2 ? V2_HDR_ALIGNED : V3_HDR_ALIGNED;
    if (cfg->tx && cfg->frame_size <= tx_off + ETH_HLEN_)
        return fail(err, MIP6_RING_EGEOMETRY, 0, "ring geometry",
                    "the frame size leaves no room for an Ethernet frame after the TX frame header");
    /* V2 receive frames must lie at a fixed stride across blocks (a window is a run of them), and
     * leave room for an Ethernet frame after the reserve. */
    if (cfg->version == 2 && cfg->rx &&
        (cfg->block_size % cfg->frame_size != 0 || cfg->frame_size % 16 != 0 ||
         (uint64_t)TPACKET_ALIGN(V2_HDRLEN + 16) + cfg->rx_reserve + MIP6_IP6_HLEN > cfg->frame_size))
        return fail(err, MIP6_RING_EGEOMETRY, 0, "ring geometry",
                    "a TPACKET_V2 receive ring needs 16-byte aligned frames that divide the block size and "
                    "hold an Ethernet frame after the reserve");
    if (cfg->fanout_mode != MIP6_RING_FANOUT_NONE && cfg->fanout_mode != MIP6_RING_FANOUT_HASH &&
        cfg->fanout_mode != MIP6_RING_FANOUT_LB && cfg->fanout_mode != MIP6_RING_FANOUT_CPU)
        return fail(err, MIP6_RING_EINVAL, 0, "configuration", "unknown fanout mode");

    unsigned ifindex = if_nametoindex(ifname);
    if (ifindex == 0)
        return fail(err, MIP6_RING_ENOIF, errno, "if_nametoindex", "no such interface");
    r->ifindex = (int)ifindex;

    /* Protocol 0 until the rings exist: a socket opened with ETH_P_ALL receives from every interface
     * at once, before bind narrows it, and those frames would land in the fresh ring. */
    r->fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (r->fd < 0) {
        int e = errno;
        return fail(err, (e == EPERM || e == EACCES) ? MIP6_RING_EPERM : MIP6_RING_ESYS, e,
                    "socket(AF_PACKET, SOCK_RAW)", (e == EPERM || e == EACCES) ? "permission denied (needs CAP_NET_RAW)"
                                                                                 : "cannot open a packet socket");
    }
    int code = MIP6_RING_ESYS;
    const char *step = "", *reason = "";

    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(r->fd, SIOCGIFMTU, &ifr) < 0) {
        step = "ioctl(SIOCGIFMTU)", reason = "cannot read the interface MTU";
        goto fail_errno;
    }
    r->mtu = (uint32_t)ifr.ifr_mtu;

    r->version = cfg->version == 2 ? TPACKET_V2 : TPACKET_V3;
    r->tx_data_off = tx_off;
    if (set_int(r->fd, PACKET_VERSION, r->version) < 0) {
        step = "setsockopt(PACKET_VERSION)", reason = cfg->version == 2 ? "TPACKET_V2 not supported"
                                                                         : "TPACKET_V3 not supported";
        goto fail_errno;
    }
    if (cfg->rx && cfg->rx_reserve && set_int(r->fd, PACKET_RESERVE, (int)cfg->rx_reserve) < 0) {
        step = "setsockopt(PACKET_RESERVE)", reason = "cannot reserve headroom in the receive frames";
        goto fail_errno;
    }
    if (cfg->tx) {
        /* A frame the kernel cannot send (too short for the link header, too long for the MTU) is
         * skipped instead of stopping the whole ring with TP_STATUS_WRONG_FORMAT. */
        if (set_int(r->fd, PACKET_LOSS, 1) < 0) {
            step = "setsockopt(PACKET_LOSS)", reason = "cannot set PACKET_LOSS";
            goto fail_errno;
        }
        if (cfg->qdisc_bypass && set_int(r->fd, PACKET_QDISC_BYPASS, 1) < 0) {
            step = "setsockopt(PACKET_QDISC_BYPASS)", reason = "qdisc bypass not supported (Linux 3.14+)";
            goto fail_errno;
        }
    }
    if (cfg->rx && cfg->ignore_outgoing && set_int(r->fd, PACKET_IGNORE_OUTGOING, 1) < 0) {
        step = "setsockopt(PACKET_IGNORE_OUTGOING)", reason = "ignoring outgoing frames not supported (Linux 4.20+)";
        goto fail_errno;
    }

    size_t rx_len = 0, tx_len = 0;
    if (cfg->rx) {
        struct tpacket_req3 req;
        memset(&req, 0, sizeof req);
        req.tp_block_size = cfg->block_size;
        req.tp_block_nr = cfg->block_count;
        req.tp_frame_size = cfg->frame_size;
        req.tp_frame_nr = (cfg->block_size / cfg->frame_size) * cfg->block_count;
        if (r->version == TPACKET_V3)
            req.tp_retire_blk_tov = cfg->block_timeout_ms;
        /* V2 reads the first four fields (struct tpacket_req), V3 all of them. */
        socklen_t req_len = r->version == TPACKET_V2 ? (socklen_t)sizeof(struct tpacket_req) : (socklen_t)sizeof req;
        if (setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, req_len) < 0) {
            int e = errno;
            code = (e == EINVAL || e == ENOMEM) ? MIP6_RING_EGEOMETRY : MIP6_RING_ESYS;
            step = "setsockopt(PACKET_RX_RING)", reason = "the kernel refused the receive ring geometry";
            errno = e;
            goto fail_errno;
        }
        r->rx_block_size = cfg->block_size;
        r->rx_block_count = cfg->block_count;
        r->rx_frame_size = cfg->frame_size;
        r->rx_frame_count = req.tp_frame_nr;
        rx_len = (size_t)cfg->block_size * cfg->block_count;
    }
    if (cfg->tx) {
        /* TX blocks are as large as RX blocks; the frame count is rounded up to whole blocks. */
        uint32_t per_block = cfg->block_size / cfg->frame_size;
        uint32_t blocks = (cfg->tx_frame_count + per_block - 1) / per_block;
        struct tpacket_req3 req;
        memset(&req, 0, sizeof req); /* V3 TX: no retire timeout, private area or features (kernel EINVAL) */
        req.tp_block_size = cfg->block_size;
        req.tp_block_nr = blocks;
        req.tp_frame_size = cfg->frame_size;
        req.tp_frame_nr = per_block * blocks;
        socklen_t req_len = r->version == TPACKET_V2 ? (socklen_t)sizeof(struct tpacket_req) : (socklen_t)sizeof req;
        if (setsockopt(r->fd, SOL_PACKET, PACKET_TX_RING, &req, req_len) < 0) {
            int e = errno;
            code = (e == EINVAL || e == ENOMEM) ? MIP6_RING_EGEOMETRY : MIP6_RING_ESYS;
            step = "setsockopt(PACKET_TX_RING)", reason = "the kernel refused the transmit ring geometry";
            errno = e;
            goto fail_errno;
        }
        r->tx_block_size = cfg->block_size;
        r->tx_frame_size = cfg->frame_size;
        r->tx_frames_per_block = per_block;
        r->tx_frame_count = per_block * blocks;
        tx_len = (size_t)cfg->block_size * blocks;
    }
    /* The kernel maps the RX ring first, then the TX ring, in one mapping. */
    r->map_len = rx_len + tx_len;
    void *map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, 0);
    if (map == MAP_FAILED) {
        r->map_len = 0;
        code = errno == ENOMEM ? MIP6_RING_EGEOMETRY : MIP6_RING_ESYS;
        step = "mmap", reason = "cannot map the rings";
        goto fail_errno;
    }
    r->map = map;
    r->rx_ring = cfg->rx ? r->map : NULL;
    r->tx_ring = cfg->tx ? r->map + rx_len : NULL;

    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)ifindex;
    /* A transmit-only socket binds with protocol 0 so it receives nothing at all. */
    sll.sll_protocol = cfg->rx ? htons(ETH_P_ALL) : 0;
    if (bind(r->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        int e = errno;
        code = e == ENODEV ? MIP6_RING_ENOIF : (e == EPERM || e == EACCES) ? MIP6_RING_EPERM : MIP6_RING_ESYS;
        step = "bind", reason = e == ENETDOWN ? "the interface is down" : "cannot bind to the interface";
        errno = e;
        goto fail_errno;
    }
    if (cfg->fanout_mode != MIP6_RING_FANOUT_NONE) {
        /* After bind: the group is per interface and protocol, and every member must match. A fanout
         * group receives through its own hook, which PACKET_IGNORE_OUTGOING on a member does not
         * reach: the group must ask for it (Linux 6.8+), else every frame the host sends on the
         * interface (the members' own transmissions included) comes back to a member. Older kernels
         * refuse the flag: join without it and skip outgoing frames as they are read. */
        int arg = (int)cfg->fanout_group | (cfg->fanout_mode << 16);
        int ignore = cfg->rx && cfg->ignore_outgoing;
        if (ignore && set_int(r->fd, PACKET_FANOUT, arg | (PACKET_FANOUT_FLAG_IGNORE_OUTGOING << 16)) == 0)
            return MIP6_OK;
        r->skip_outgoing = ignore;
        if (set_int(r->fd, PACKET_FANOUT, arg) < 0) {
            code = errno == EINVAL ? MIP6_RING_EINVAL : MIP6_RING_ESYS;
            step = "setsockopt(PACKET_FANOUT)",
            reason = "cannot join the fanout group (another member uses another mode or interface?)";
            goto fail_errno;
        }
    }
    return MIP6_OK;

fail_errno: {
        int e = errno;
        if (e == EPERM || e == EACCES)
            code = MIP6_RING_EPERM, reason = "permission denied (needs CAP_NET_RAW)";
        mip6_ring_close(r);
        return fail(err, code, e, step, reason);
    }
}

void mip6_ring_shutdown(mip6_ring_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

void mip6_ring_close(mip6_ring_t *r)
{
    if (r->map)
        munmap(r->map, r->map_len);
    r->map = r->rx_ring = r->tx_ring = NULL;
    r->map_len = 0;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

/* Waits for the socket with poll; 1 ready, 0 timed out or interrupted (the caller returns to let
 * Python see a signal), or a negative code. */
static int wait_fd(mip6_ring_t *r, short events, int timeout_ms, mip6_ring_err_t *err)
{
    struct pollfd p = { .fd = r->fd, .events = events, .revents = 0 };
    int n = poll(&p, 1, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return fail(err, MIP6_RING_ESYS, errno, "poll", "poll on the packet socket failed");
    }
    if (n > 0 && (p.revents & POLLNVAL))
        return fail(err, MIP6_RING_EINVAL, EBADF, "poll", "the packet socket is closed");
    return n > 0;
}

/* The current RX block if the kernel has handed it over (a fresh one is started), else NULL. */
static struct tpacket_block_desc *rx_ready_block(mip6_ring_t *r)
{
    for (;;) {
        struct tpacket_block_desc *bd = rx_block_desc(r, r->rx_block);
        if (r->rx_left > 0)
            return bd;
        if (!(load_status(&bd->hdr.bh1.block_status) & TP_STATUS_USER))
            return NULL;
        r->rx_left = bd->hdr.bh1.num_pkts;
        r->rx_next = bd->hdr.bh1.offset_to_first_pkt;
        if (r->rx_left > 0)
            return bd;
        /* an empty retired block: give it straight back and look at the next one */
        store_status(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL);
        r->c.rx_blocks++;
        r->rx_block = (r->rx_block + 1) % r->rx_block_count;
    }
}

/* The next frame of the current block (whose rx_left > 0); gives the block back after its last one. */
static struct tpacket3_hdr *rx_take_frame(mip6_ring_t *r, struct tpacket_block_desc *bd)
{
    struct tpacket3_hdr *h = (struct tpacket3_hdr *)(void *)((uint8_t *)bd + r->rx_next);
    r->rx_next += h->tp_next_offset;
    return h;
}

static void rx_frame_done(mip6_ring_t *r, struct tpacket_block_desc *bd)
{
    if (--r->rx_left == 0) {
        store_status(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL);
        r->c.rx_blocks++;
        r->rx_block = (r->rx_block + 1) % r->rx_block_count;
    }
}

static inline uint8_t frame_pkttype(const struct tpacket3_hdr *h)
{
    const struct sockaddr_ll *sll = (const struct sockaddr_ll *)(const void *)((const uint8_t *)h + V3_HDR_ALIGNED);
    return sll->sll_pkttype;
}

/* A received frame as packet i of b (its bytes already at off): the columns of a fresh packet, the
 * frame's packet type in aux, and the ring's receive counters. */
static inline void rx_column(mip6_ring_t *r, mip6_batch_t *b, uint32_t i, uint32_t off, uint32_t len, uint8_t pkttype)
{
    b->offset[i] = off;
    b->length[i] = len;
    b->verdict[i] = MIP6_V_PASS;
    b->reason[i] = MIP6_R_NONE;
    b->aux[i] = pkttype;
    r->c.rx_frames++;
    r->c.rx_bytes += len;
}

/* Copies a received frame into slot i of b, headroom bytes in (the caller checked it fits). */
static inline void rx_copy(mip6_ring_t *r, mip6_batch_t *b, uint32_t i, const uint8_t *data, uint32_t len,
                           uint8_t pkttype)
{
    uint64_t off = (uint64_t)i * b->slot_size + b->headroom;
    memcpy(b->buf + off, data, len);
    rx_column(r, b, i, (uint32_t)off, len, pkttype);
}

/* ---- TPACKET_V2 receive: fixed frames at a fixed stride ---------------------------------------- */

static inline uint8_t v2_pkttype(const struct tpacket2_hdr *h)
{
    const struct sockaddr_ll *sll = (const struct sockaddr_ll *)(const void *)((const uint8_t *)h + V2_HDR_ALIGNED);
    return sll->sll_pkttype;
}

static inline int v2_ready(const struct tpacket2_hdr *h)
{
    return (load_status(&h->tp_status) & TP_STATUS_USER) != 0;
}

/* Why frame h cannot be handed out whole (1 counted as outgoing, 2 as oversize), or 0. The kernel
 * wrote tp_mac and the lengths; they are checked against the frame all the same. */
static int v2_unusable(const mip6_ring_t *r, const struct tpacket2_hdr *h)
{
    if (r->skip_outgoing && v2_pkttype(h) == PACKET_OUTGOING)
        return 1;
    if (h->tp_snaplen != h->tp_len || h->tp_mac < V2_HDRLEN || (uint64_t)h->tp_mac + h->tp_snaplen > r->rx_frame_size)
        return 2;
    return 0;
}

static void v2_give_back(mip6_ring_t *r, struct tpacket2_hdr *h)
{
    store_status(&h->tp_status, TP_STATUS_KERNEL);
    r->rx_head = r->rx_head + 1 == r->rx_frame_count ? 0 : r->rx_head + 1;
}

static void v2_count_unusable(mip6_ring_t *r, int why)
{
    if (why == 1)
        r->c.rx_outgoing++;
    else
        r->c.rx_oversize++;
}

/* Waits for the head frame as mip6_ring_recv does; 1 ready, 0 not, or a negative code. */
static int v2_wait_head(mip6_ring_t *r, int timeout_ms, mip6_ring_err_t *err)
{
    if (v2_ready(rx2_frame(r, r->rx_head)))
        return 1;
    if (timeout_ms == 0)
        return 0;
    int w = wait_fd(r, POLLIN | POLLERR, timeout_ms, err);
    if (w < 0)
        return w;
    return v2_ready(rx2_frame(r, r->rx_head));
}

static int recv_v2(mip6_ring_t *r, mip6_batch_t *b, uint32_t start, uint32_t max, int timeout_ms,
                   mip6_ring_err_t *err)
{
    if (r->rx_held)
        return fail(err, MIP6_RING_EINVAL, 0, "receive", "a receive window is still held (release it first)");
    uint32_t room = b->slot_size - b->headroom, n = 0;
    if (max == 0)
        return 0;
    int w = v2_wait_head(r, timeout_ms, err);
    if (w <= 0)
        return w;
    while (n < max) {
        struct tpacket2_hdr *h = rx2_frame(r, r->rx_head);
        if (!v2_ready(h))
            break;
        int why = v2_unusable(r, h);
        if (!why && h->tp_snaplen > room)
            why = 2;
        if (why)
            v2_count_unusable(r, why);
        else
            rx_copy(r, b, start + n++, (uint8_t *)h + h->tp_mac, h->tp_snaplen, v2_pkttype(h));
        v2_give_back(r, h);
    }
    return (int)n;
}

int mip6_ring_rx_window(mip6_ring_t *r, mip6_batch_t *b, uint32_t max, int timeout_ms, uint32_t *first,
                        mip6_ring_err_t *err)
{
    *first = 0;
    b->count = 0;
    if (r->fd < 0 || !r->rx_ring)
        return fail(err, MIP6_RING_EINVAL, 0, "receive window", r->fd < 0 ? "the ring is closed" : "no receive ring");
    if (r->version != TPACKET_V2)
        return fail(err, MIP6_RING_EINVAL, 0, "receive window", "receiving in place needs a TPACKET_V2 ring");
    if (r->rx_held)
        return fail(err, MIP6_RING_EINVAL, 0, "receive window", "the previous window is still held (release it first)");
    if (max == 0)
        return 0;
    int w = v2_wait_head(r, timeout_ms, err);
    if (w <= 0)
        return w;
    uint32_t n = 0, fs = r->rx_frame_size;
    for (;;) {
        uint32_t k = r->rx_head + n;
        /* batch offsets are 32-bit: a window of a ring over 4 GiB stops short of that */
        if (n == max || k == r->rx_frame_count || (uint64_t)(n + 1) * fs > UINT32_MAX)
            break;
        struct tpacket2_hdr *h = rx2_frame(r, k);
        if (!v2_ready(h))
            break;
        int why = v2_unusable(r, h);
        if (why) {
            if (n > 0)
                break; /* the window ends before it; the next one starts by giving it back */
            v2_count_unusable(r, why);
            v2_give_back(r, h);
            continue;
        }
        rx_column(r, b, n, n * fs + h->tp_mac, h->tp_snaplen, v2_pkttype(h));
        n++;
    }
    b->buf = (uint8_t *)rx2_frame(r, r->rx_head);
    b->slot_size = fs;
    b->headroom = n ? b->offset[0] : V2_HDRLEN;
    b->count = n;
    *first = r->rx_head;
    r->rx_held = n;
    if (n)
        r->c.rx_windows++;
    return (int)n;
}

void mip6_ring_rx_release(mip6_ring_t *r)
{
    if (!r->rx_ring || r->version != TPACKET_V2)
        return;
    uint32_t n = r->rx_held;
    r->rx_held = 0;
    for (uint32_t j = 0; j < n; j++)
        v2_give_back(r, rx2_frame(r, r->rx_head));
}

int mip6_ring_recv(mip6_ring_t *r, mip6_batch_t *b, uint32_t start, uint32_t max, int timeout_ms,
                   mip6_ring_err_t *err)
{
    if (r->fd < 0 || !r->rx_ring)
        return fail(err, MIP6_RING_EINVAL, 0, "receive", r->fd < 0 ? "the ring is closed" : "no receive ring");
    if (b->headroom >= b->slot_size)
        return fail(err, MIP6_RING_EINVAL, 0, "receive", "batch headroom is not inside its slot");
    if (r->version == TPACKET_V2)
        return recv_v2(r, b, start, max, timeout_ms, err);
    uint32_t room = b->slot_size - b->headroom, n = 0;
    struct tpacket_block_desc *bd = rx_ready_block(r);
    if (!bd && max > 0 && timeout_ms != 0) {
        int w = wait_fd(r, POLLIN | POLLERR, timeout_ms, err);
        if (w < 0)
            return w;
        bd = rx_ready_block(r);
    }
    while (bd && n < max) {
        struct tpacket3_hdr *h = rx_take_frame(r, bd);
        if (r->skip_outgoing && frame_pkttype(h) == PACKET_OUTGOING) {
            r->c.rx_outgoing++;
        } else if (h->tp_snaplen > room || h->tp_snaplen != h->tp_len) {
            r->c.rx_oversize++;
        } else {
            rx_copy(r, b, start + n++, (uint8_t *)h + h->tp_mac, h->tp_snaplen, frame_pkttype(h));
        }
        rx_frame_done(r, bd);
        bd = rx_ready_block(r);
    }
    return (int)n;
}

/* Kicks the kernel to send every frame marked SEND_REQUEST. Without waiting: the frames complete
 * asynchronously and wait_tx_frame polls for them. ENOBUFS/EAGAIN leave frames queued for the next
 * kick, so they are not errors. */
static int tx_kick(mip6_ring_t *r, mip6_ring_err_t *err)
{
    if (r->tx_pending == 0)
        return MIP6_OK;
    r->c.tx_kicks++;
    if (sendto(r->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != ENOBUFS && errno != EAGAIN &&
        errno != EINTR)
        return fail(err, MIP6_RING_ESYS, errno, "sendto", "the kernel refused to send the TX ring");
    r->tx_pending = 0;
    return MIP6_OK;
}

/* Is frame k free for us? A frame the kernel refused (WRONG_FORMAT, only without PACKET_LOSS) is
 * counted and reclaimed. */
static int tx_frame_free(mip6_ring_t *r, uint8_t *f)
{
    uint32_t *status = tx_status(r, f);
    uint32_t st = load_status(status);
    if (st == TP_STATUS_AVAILABLE)
        return 1;
    if (st & TP_STATUS_WRONG_FORMAT) {
        r->c.tx_wrong_format++;
        store_status(status, TP_STATUS_AVAILABLE);
        return 1;
    }
    return 0;
}

/* The frame at tx_head once it is free: kicks what is queued and polls until deadline (0: no wait).
 * 1 free, 0 still full, or a negative code. */
static int wait_tx_frame(mip6_ring_t *r, uint64_t deadline, int forever, mip6_ring_err_t *err)
{
    uint8_t *h = tx_frame(r, r->tx_head);
    if (tx_frame_free(r, h))
        return 1;
    r->c.tx_full++;
    int rc = tx_kick(r, err);
    if (rc < 0)
        return rc;
    for (;;) {
        if (tx_frame_free(r, h))
            return 1;
        uint64_t now = now_ns();
        if (!forever && now >= deadline)
            return 0;
        /* POLLOUT means the kernel's TX head frame is available; a short poll interval covers frames
         * freed out of order by the driver. */
        int slice = forever ? 10 : (int)((deadline - now + 999999) / 1000000);
        if (slice > 10)
            slice = 10;
        rc = wait_fd(r, POLLOUT, slice, err);
        if (rc < 0)
            return rc;
    }
}

static int tx_fits(const mip6_ring_t *r, uint32_t len)
{
    /* The kernel accepts up to MTU + link header (+ a VLAN tag, which we do not build). */
    return len >= ETH_HLEN_ && len <= r->tx_frame_size - r->tx_data_off && len <= r->mtu + ETH_HLEN_;
}

/* Copies one frame into the frame at tx_head and marks it for sending. */
static void tx_put(mip6_ring_t *r, const uint8_t *data, uint32_t len)
{
    uint8_t *f = tx_frame(r, r->tx_head);
    memcpy(f + r->tx_data_off, data, len);
    if (r->version == TPACKET_V2) {
        struct tpacket2_hdr *h = (struct tpacket2_hdr *)(void *)f;
        h->tp_len = len;
        h->tp_snaplen = len;
    } else {
        struct tpacket3_hdr *h = (struct tpacket3_hdr *)(void *)f;
        h->tp_len = len;
        h->tp_snaplen = len;
        h->tp_next_offset = 0; /* V3 TX has fixed slots: the kernel refuses anything else */
    }
    store_status(tx_status(r, f), TP_STATUS_SEND_REQUEST);
    r->tx_head = (r->tx_head + 1) % r->tx_frame_count;
    r->tx_pending++;
    r->c.tx_frames++;
    r->c.tx_bytes += len;
}

int mip6_ring_send(mip6_ring_t *r, const mip6_batch_t *b, int verdict, int timeout_ms, mip6_ring_err_t *err)
{
    if (r->fd < 0 || !r->tx_ring)
        return fail(err, MIP6_RING_EINVAL, 0, "send", r->fd < 0 ? "the ring is closed" : "no transmit ring");
    uint64_t deadline = timeout_ms > 0 ? now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    int queued = 0, rc;
    for (uint32_t i = 0; i < b->count; i++) {
        if (verdict >= 0 && b->verdict[i] != (uint8_t)verdict)
            continue;
        uint64_t start = (uint64_t)i * b->slot_size, off = b->offset[i], len = b->length[i];
        if (off < start || off > start + b->slot_size || len > start + b->slot_size - off ||
            !tx_fits(r, (uint32_t)len)) {
            r->c.tx_rejected++;
            continue;
        }
        rc = wait_tx_frame(r, deadline, timeout_ms < 0, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break; /* still full at the deadline: the rest is not queued */
        tx_put(r, b->buf + off, (uint32_t)len);
        queued++;
    }
    rc = tx_kick(r, err);
    return rc < 0 ? rc : queued;
}

uint32_t mip6_ring_tx_in_flight(const mip6_ring_t *r)
{
    uint32_t n = 0;
    if (!r->tx_ring)
        return 0;
    for (uint32_t k = 0; k < r->tx_frame_count; k++) {
        uint32_t st = load_status(tx_status(r, tx_frame(r, k)));
        if (st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING))
            n++;
    }
    return n;
}

int mip6_ring_stats(mip6_ring_t *r, mip6_ring_stats_t *st, mip6_ring_err_t *err)
{
    if (r->fd < 0)
        return fail(err, MIP6_RING_EINVAL, 0, "statistics", "the ring is closed");
    struct tpacket_stats_v3 k;
    socklen_t len = sizeof k;
    memset(&k, 0, sizeof k);
    if (getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &k, &len) < 0)
        return fail(err, MIP6_RING_ESYS, errno, "getsockopt(PACKET_STATISTICS)", "cannot read the statistics");
    /* The kernel zeroes its counters on every read: keep the running totals. */
    r->st_packets += k.tp_packets;
    r->st_drops += k.tp_drops;
    r->st_freeze += k.tp_freeze_q_cnt;
    st->packets = r->st_packets;
    st->drops = r->st_drops;
    st->freeze_count = r->st_freeze;
    st->c = r->c;
    return MIP6_OK;
}

int mip6_ring_reflect(mip6_ring_t *rx, mip6_ring_t *tx, uint64_t max_frames, uint64_t duration_ns,
                      mip6_reflect_result_t *res, mip6_ring_err_t *err)
{
    memset(res, 0, sizeof *res);
    if (rx->fd < 0 || !rx->rx_ring)
        return fail(err, MIP6_RING_EINVAL, 0, "reflect", "the receiving ring has no receive ring");
    if (rx->version != TPACKET_V3)
        return fail(err, MIP6_RING_EINVAL, 0, "reflect", "the reflector reads TPACKET_V3 receive blocks");
    if (tx->fd < 0 || !tx->tx_ring)
        return fail(err, MIP6_RING_EINVAL, 0, "reflect", "the sending ring has no transmit ring");
    uint64_t start = now_ns(), deadline = start + duration_ns;
    int rc;
    while (max_frames == 0 || res->rx_frames < max_frames) {
        uint64_t now = now_ns();
        if (now >= deadline)
            break;
        struct tpacket_block_desc *bd = rx_ready_block(rx);
        if (!bd) {
            int slice = (int)((deadline - now + 999999) / 1000000);
            rc = wait_fd(rx, POLLIN | POLLERR, slice > 100 ? 100 : slice, err);
            if (rc < 0)
                return rc;
            continue;
        }
        /* The rest of this block, ring to ring; one kick per block. */
        while (bd && (max_frames == 0 || res->rx_frames < max_frames)) {
            struct tpacket3_hdr *h = rx_take_frame(rx, bd);
            uint32_t len = h->tp_snaplen;
            res->rx_frames++;
            rx->c.rx_frames++;
            rx->c.rx_bytes += len;
            if (!tx_fits(tx, len) || len != h->tp_len) {
                res->dropped++;
                tx->c.tx_rejected++;
            } else {
                rc = wait_tx_frame(tx, deadline, 0, err);
                if (rc < 0)
                    return rc;
                if (rc == 0) {
                    res->dropped++;
                } else {
                    tx_put(tx, (uint8_t *)h + h->tp_mac, len);
                    res->tx_frames++;
                    res->bytes += len;
                }
            }
            int last = rx->rx_left == 1;
            rx_frame_done(rx, bd);
            if (last)
                break;
        }
        rc = tx_kick(tx, err);
        if (rc < 0)
            return rc;
    }
    rc = tx_kick(tx, err);
    res->elapsed_ns = now_ns() - start;
    return rc;
}
