/* TUN devices, a batch at a time. See mip6_tun.h. */
#define _GNU_SOURCE
#include "mip6_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

int mip6_tun_open(const char *name, char name_out[MIP6_TUN_NAME_MAX], int *errno_out)
{
    struct ifreq ifr;
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= IFNAMSIZ) {
        *errno_out = EINVAL;
        return -1;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *errno_out = errno;
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, len);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        *errno_out = errno;
        close(fd);
        return -1;
    }
    memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
    name_out[MIP6_TUN_NAME_MAX - 1] = '\0';
    *errno_out = 0;
    return fd;
}

uint32_t mip6_tun_read_batch(int fd, mip6_batch_t *b, uint32_t capacity, mip6_tun_stats_t *st)
{
    uint32_t added = 0;
    if (b->headroom >= b->slot_size)
        return 0;
    size_t room = (size_t)(b->slot_size - b->headroom);
    while (b->count < capacity) {
        uint32_t i = b->count;
        uint8_t *slot = b->buf + (size_t)i * b->slot_size + b->headroom;
        ssize_t n = read(fd, slot, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                st->errors++;
                st->errno_last = errno;
            }
            break;
        }
        if (n == 0)
            break;
        if ((size_t)n >= room) {
            /* The kernel cuts what does not fit; a full slot cannot be told from a cut packet. */
            st->truncated++;
            continue;
        }
        b->offset[i] = (uint32_t)((size_t)i * b->slot_size + b->headroom);
        b->length[i] = (uint32_t)n;
        b->verdict[i] = MIP6_V_PASS;
        b->reason[i] = 0;
        b->aux[i] = 0;
        b->count = i + 1;
        st->packets++;
        st->bytes += (uint64_t)n;
        added++;
    }
    return added;
}

uint32_t mip6_tun_write_batch(int fd, const mip6_batch_t *b, int verdict, mip6_tun_stats_t *st)
{
    for (uint32_t i = 0; i < b->count; i++) {
        if (verdict >= 0 && b->verdict[i] != (uint8_t)verdict)
            continue;
        uint64_t start = (uint64_t)i * b->slot_size;
        if (b->offset[i] < start || (uint64_t)b->offset[i] + b->length[i] > start + b->slot_size) {
            st->errors++;      /* outside its slot: never handed to the kernel */
            st->errno_last = EINVAL;
            continue;
        }
        for (;;) {
            ssize_t n = write(fd, b->buf + b->offset[i], b->length[i]);
            if (n >= 0) {
                st->packets++;
                st->bytes += (uint64_t)n;
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return i;
            st->errors++;
            st->errno_last = errno;
            break;
        }
    }
    return b->count;
}
