/* Binding cache table: see mip6_bcache.h for the theory of operation. */
#define _GNU_SOURCE /* madvise, syscall, O_CLOEXEC (glibc without the C11 strict-namespace filter) */
#include "mip6_bcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define MIP6_HAVE_GETRANDOM 1
#endif
#endif

#define BC_EMPTY 0u
#define BC_TOMB 0xFFFFFFFFu /* never tag | (slot + 1): slot + 1 < mask (must_double in mip6_bcache_update) */
#define BC_MIN_SHIFT 4      /* 16 buckets */
#define BC_MAX_SHIFT 30     /* 2^30 buckets: 4 GiB of index, 805M entries */
/* Old buckets moved per insert or delete while growing. A move starts with at most 3/8 of the new
 * index's buckets' worth of live entries (3/4 of an index half its size, or at most 3/8 of one the same
 * size when the move only sheds tombstones), and it ends after nbuckets_old / 16 inserts or deletes,
 * which add at most 1/16 more: the new index stays under 7/16 load, below its 3/4 threshold. So a move
 * is never cut short and no call does more than 16 buckets' work (bc_start_growth would still finish a
 * move first if one were). */
#define BC_MIGRATE_STEP 16
/* Entries live in chunks of 2^15 (about 2 MB for 16-byte keys): slot s is entry s & (BC_CHUNK - 1) of
 * chunk s >> 15. Full chunks are carved from arenas: one for the hinted capacity at creation, then 1, 2,
 * 4, ... up to 16 chunks at a time, so growth never copies entries, a large table is backed by
 * transparent huge pages, and at most one arena is slack. The part of the hint below a whole chunk (or a
 * small table's only chunk) is one "lone" chunk of its own that grows by half with realloc (a copy of
 * at most 2 MB) until it is full; only then do arenas follow it. */
#define BC_CHUNK_SHIFT 15
#define BC_CHUNK ((uint32_t)1 << BC_CHUNK_SHIFT)
#define BC_CHUNK_WORDS (BC_CHUNK / 64) /* live-bitmap words per chunk */
#define BC_ARENA_MAX 16                /* chunks per arena at most */
#define BC_FIXED ((unsigned)sizeof(mip6_binding_t)) /* 44: the entry before its key */
#define BC_RING 128         /* in-flight window of the batch lookup: a power of two > BC_PF_B + BC_PF_C */
#define BC_PF_B 16          /* keys between hashing (bucket prefetched) and probing the bucket */
#define BC_PF_C 40          /* keys between probing (entry prefetched) and comparing the entry's key */

_Static_assert(BC_PF_B + BC_PF_C + 4 < BC_RING && BC_RING % 4 == 0, "the batch pipeline must fit its ring");
_Static_assert(sizeof(mip6_binding_t) == 44, "an entry is 44 bytes of fields, then the key");

typedef struct bc_index {
    uint32_t *b;    /* nbuckets = mask + 1 buckets; NULL when absent */
    uint32_t mask;  /* nbuckets - 1, and the mask of the slot + 1 field of a bucket */
    unsigned shift; /* log2(nbuckets) */
    uint32_t used;  /* non-empty buckets, tombstones included */
    uint32_t tombs;
} bc_index_t;

struct mip6_bcache {
    uint8_t **chunk;     /* chunk[c]: the entries of slots c << BC_CHUNK_SHIFT ... */
    uint64_t **live;     /* live[c]: one bit per slot of chunk c (BC_CHUNK_WORDS words) */
    void **arena;        /* memory the chunks are carved from */
    uint32_t nchunks, chunk_room, narenas, arena_room;
    int32_t lone;        /* index of the chunk allocated on its own (not in an arena), or -1 */
    uint32_t lone_cap;   /* its capacity in entries (BC_CHUNK once full) */
    size_t entry_bytes;  /* bytes allocated for entries: arenas and the lone chunk */
    uint32_t cap, hw, len, nfree;
    int32_t free_head;   /* LIFO free list threaded through the freed entries' coa field; -1 = empty */
    unsigned key_len, esize;
    uint64_t sip[4];     /* SipHash's initial state for the table's 128-bit key (bc_sip_init) */
    bc_index_t cur;      /* where inserts go */
    bc_index_t old;      /* being drained into cur while growing (old.b != NULL) */
    uint32_t mig_pos;    /* next old bucket to move */
    uint64_t min_expiry; /* lower bound of every live entry's expiry: expire() returns early below it */
    uint64_t exp_now;    /* the now_ns of the sweep in progress */
    uint64_t sweep_min;  /* smallest surviving expiry seen by the sweep in progress */
    uint32_t exp_cursor; /* where the sweep in progress resumes; 0 = no sweep in progress */
    const mip6_alloc_t *al; /* where the table's memory comes from; NULL: libc */
};

/* ---- allocation, with a failure hook for tests -------------------------------------------------- */

static long bc_fail_countdown = -1; /* < 0: never fail; n: let n allocations succeed, then fail */

void mip6_bcache_debug_fail_allocs(long n) { bc_fail_countdown = n; }

static inline int bc_alloc_fails(void)
{
    if (bc_fail_countdown < 0)
        return 0;
    if (bc_fail_countdown == 0)
        return 1;
    bc_fail_countdown--;
    return 0;
}

/* A table's memory comes from its allocator (mip6_alloc.h), libc's when it has none. */
static void *bc_calloc(const mip6_alloc_t *a, size_t n, size_t size)
{
    if (bc_alloc_fails())
        return NULL;
    return a ? a->calloc(a->ctx, n, size) : calloc(n, size);
}
static void *bc_malloc(const mip6_alloc_t *a, size_t n)
{
    if (bc_alloc_fails())
        return NULL;
    return a ? a->calloc(a->ctx, 1, n) : malloc(n);
}
static void *bc_realloc(const mip6_alloc_t *a, void *p, size_t n)
{
    if (bc_alloc_fails())
        return NULL;
    return a ? a->realloc(a->ctx, p, n) : realloc(p, n);
}
static void bc_free(const mip6_alloc_t *a, void *p)
{
    if (a)
        a->free(a->ctx, p);
    else
        free(p);
}

/* ---- keyed hash ------------------------------------------------------------------------------- */
/* SipHash (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) over the whole key, keyed
 * with the table's 128-bit seed: k0 = seed bytes 0..7, k1 = bytes 8..15, both little-endian, as the
 * paper reads its key. Without the seed a sender learns nothing about where a home address lands, so
 * it cannot pick addresses that share a bucket; an earlier multiply-fold (wyhash style) gave every key
 * with one chosen 64-bit half the same hash (issue 12).
 *
 * SipHash-1-3 (one compression round per 8-byte block, three finalisation rounds), the variant CPython
 * (str and bytes hashing since 3.11) and Rust's standard HashMap use for exactly this job: hash-flooding
 * resistance under a secret key, where the attacker sees at most timing, never a hash value. No attack
 * on 1-3 in that setting is known; 2-4 is the paper's conservative choice for a MAC. 1-3 runs 6 rounds
 * for a 16-byte key (2-4: 10) and 8 for a 32-byte key (2-4: 14); measured here 7.4 against 12.3 ns
 * per 16-byte hash (docs/DATAPATH.md, "The hash"). mip6fast/_bcache_py.py repeats this exactly. */
#define BC_SIP_CROUNDS 1
#define BC_SIP_DROUNDS 3

static inline uint64_t bc_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* 8 bytes read as a little-endian number (SipHash's byte order, on any host). */
static inline uint64_t bc_load64le(const uint8_t *p)
{
    uint64_t v = bc_load64(p);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t bc_rotl(uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

/* One SipRound: two add-rotate-xor halves that meet crosswise (the paper's figure 2.1). */
#define BC_SIPROUND(v0, v1, v2, v3)                                                                          \
    do {                                                                                                     \
        v0 += v1;                                                                                            \
        v2 += v3;                                                                                            \
        v1 = bc_rotl(v1, 13) ^ v0;                                                                           \
        v3 = bc_rotl(v3, 16) ^ v2;                                                                           \
        v0 = bc_rotl(v0, 32);                                                                                \
        v2 += v1;                                                                                            \
        v0 += v3;                                                                                            \
        v1 = bc_rotl(v1, 17) ^ v2;                                                                           \
        v3 = bc_rotl(v3, 21) ^ v0;                                                                           \
        v2 = bc_rotl(v2, 32);                                                                                \
    } while (0)

/* The initial state of a key: k0, k1 xored with the four constants of the paper ("somepseudorandomly
 * generatedbytes" as little-endian words). */
static void bc_sip_init(uint64_t v[4], const uint8_t key[16])
{
    uint64_t k0 = bc_load64le(key), k1 = bc_load64le(key + 8);
    v[0] = k0 ^ 0x736f6d6570736575ull;
    v[1] = k1 ^ 0x646f72616e646f6dull;
    v[2] = k0 ^ 0x6c7967656e657261ull;
    v[3] = k1 ^ 0x7465646279746573ull;
}

/* SipHash-c-d of m[0..len) from an initial state. Inlined with constant len and rounds, the loops
 * unroll to straight-line code (the table's 16- and 32-byte keys). */
static inline __attribute__((always_inline)) uint64_t bc_siphash(const uint64_t init[4], const uint8_t *m,
                                                                 size_t len, unsigned crounds,
                                                                 unsigned drounds)
{
    uint64_t v0 = init[0], v1 = init[1], v2 = init[2], v3 = init[3];
    const size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t w = bc_load64le(m + i);
        v3 ^= w;
        for (unsigned r = 0; r < crounds; r++)
            BC_SIPROUND(v0, v1, v2, v3);
        v0 ^= w;
    }
    /* The last block: the remaining 0..7 bytes, little-endian, and len mod 256 in the top byte. */
    uint64_t b = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)m[whole + i] << (8 * i);
    v3 ^= b;
    for (unsigned r = 0; r < crounds; r++)
        BC_SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (unsigned r = 0; r < drounds; r++)
        BC_SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static inline uint64_t bc_hash(const mip6_bcache_t *t, const uint8_t *k, unsigned klen)
{
    return klen == 16 ? bc_siphash(t->sip, k, 16, BC_SIP_CROUNDS, BC_SIP_DROUNDS)
                      : bc_siphash(t->sip, k, 32, BC_SIP_CROUNDS, BC_SIP_DROUNDS);
}

uint64_t mip6_siphash(const uint8_t key[16], const uint8_t *msg, size_t len, unsigned crounds, unsigned drounds)
{
    uint64_t v[4];
    bc_sip_init(v, key);
    return bc_siphash(v, msg, len, crounds, drounds);
}

/* Four keys at once with AVX2 (x86-64, chosen at run time): the batch lookup hashes every key of a
 * batch, and scalar SipHash is bound by its instruction count (about 100 for a 16-byte key), which would
 * otherwise be most of a batched lookup's cost. One 64-bit lane per key; every step is the scalar one
 * (rotations by 16 and 32 are byte and dword shuffles), so the results are the same bits. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BC_HAVE_X4 1

#define BC_X4_ROTL(x, b) _mm256_or_si256(_mm256_slli_epi64((x), (b)), _mm256_srli_epi64((x), 64 - (b)))
#define BC_X4_SIPROUND(v0, v1, v2, v3, rot16)                                                                \
    do {                                                                                                     \
        v0 = _mm256_add_epi64(v0, v1);                                                                       \
        v2 = _mm256_add_epi64(v2, v3);                                                                       \
        v1 = _mm256_xor_si256(BC_X4_ROTL(v1, 13), v0);                                                       \
        v3 = _mm256_xor_si256(_mm256_shuffle_epi8(v3, rot16), v2);                                           \
        v0 = _mm256_shuffle_epi32(v0, _MM_SHUFFLE(2, 3, 0, 1));                                              \
        v2 = _mm256_add_epi64(v2, v1);                                                                       \
        v0 = _mm256_add_epi64(v0, v3);                                                                       \
        v1 = _mm256_xor_si256(BC_X4_ROTL(v1, 17), v2);                                                       \
        v3 = _mm256_xor_si256(BC_X4_ROTL(v3, 21), v0);                                                       \
        v2 = _mm256_shuffle_epi32(v2, _MM_SHUFFLE(2, 3, 0, 1));                                              \
    } while (0)

/* out[j] = bc_hash of the key at k + j * stride, j = 0..3. */
__attribute__((target("avx2"))) static void bc_hash_x4(const mip6_bcache_t *t, const uint8_t *k, size_t stride,
                                                      unsigned klen, uint64_t out[4])
{
    /* Rotate each 64-bit lane left by 16 bits: byte i of a lane takes byte i - 2 (mod 8). */
    const __m256i rot16 = _mm256_setr_epi8(6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13,
                                           6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13);
    __m256i v0 = _mm256_set1_epi64x((long long)t->sip[0]), v1 = _mm256_set1_epi64x((long long)t->sip[1]);
    __m256i v2 = _mm256_set1_epi64x((long long)t->sip[2]), v3 = _mm256_set1_epi64x((long long)t->sip[3]);
    for (unsigned off = 0; off < klen; off += 8) {
        __m256i m = _mm256_setr_epi64x((long long)bc_load64le(k + off), (long long)bc_load64le(k + stride + off),
                                       (long long)bc_load64le(k + 2 * stride + off),
                                       (long long)bc_load64le(k + 3 * stride + off));
        v3 = _mm256_xor_si256(v3, m);
        for (unsigned r = 0; r < BC_SIP_CROUNDS; r++)
            BC_X4_SIPROUND(v0, v1, v2, v3, rot16);
        v0 = _mm256_xor_si256(v0, m);
    }
    const __m256i b = _mm256_set1_epi64x((long long)((uint64_t)klen << 56)); /* no tail bytes: 16 or 32 */
    v3 = _mm256_xor_si256(v3, b);
    for (unsigned r = 0; r < BC_SIP_CROUNDS; r++)
        BC_X4_SIPROUND(v0, v1, v2, v3, rot16);
    v0 = _mm256_xor_si256(v0, b);
    v2 = _mm256_xor_si256(v2, _mm256_set1_epi64x(0xff));
    for (unsigned r = 0; r < BC_SIP_DROUNDS; r++)
        BC_X4_SIPROUND(v0, v1, v2, v3, rot16);
    __m256i h = _mm256_xor_si256(_mm256_xor_si256(v0, v1), _mm256_xor_si256(v2, v3));
    _mm256_storeu_si256((__m256i *)(void *)out, h);
}

/* 1 when this CPU runs AVX2 (asked once; a racing first call computes the same answer). */
static int bc_x4_ok(void)
{
    static int ok = -1;
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return ok;
}
#else
static int bc_x4_ok(void) { return 0; }
static void bc_hash_x4(const mip6_bcache_t *t, const uint8_t *k, size_t stride, unsigned klen, uint64_t out[4])
{
    for (unsigned j = 0; j < 4; j++)
        out[j] = bc_hash(t, k + j * stride, klen);
}
#endif

/* The splitmix64 finaliser: only to stir the clock into a seed when no random source is left. */
static inline uint64_t bc_fmix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 16 bytes from the kernel's CSPRNG: getrandom(), else the raw syscall, else /dev/urandom. If all of
 * them fail (a sandbox without /dev) the clock and addresses are mixed in: the table still works, only
 * its collision resistance against a chosen-key sender is weaker. */
static void bc_random_seed(uint8_t out[16])
{
    size_t got = 0;
#if defined(MIP6_HAVE_GETRANDOM)
    while (got < 16) {
        ssize_t r = getrandom(out + got, 16 - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
#elif defined(SYS_getrandom)
    while (got < 16) {
        long r = syscall(SYS_getrandom, out + got, 16 - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
#endif
    if (got < 16) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            while (got < 16) {
                ssize_t r = read(fd, out + got, 16 - got);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            close(fd);
        }
    }
    if (got < 16) {
        struct timespec ts = {0, 0};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t a = bc_fmix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid());
        uint64_t b = bc_fmix(a ^ (uint64_t)(uintptr_t)out ^ (uint64_t)(uintptr_t)&bc_random_seed);
        memcpy(out, &a, 8);
        memcpy(out + 8, &b, 8);
    }
}

/* ---- entries ---------------------------------------------------------------------------------- */

static inline uint8_t *bc_at(uint8_t *const *chunk, unsigned esize, uint32_t slot)
{
    return chunk[slot >> BC_CHUNK_SHIFT] + (size_t)(slot & (BC_CHUNK - 1)) * esize;
}

static inline mip6_binding_t *bc_entry(const mip6_bcache_t *t, int32_t slot)
{
    return (mip6_binding_t *)bc_at(t->chunk, t->esize, (uint32_t)slot);
}

static inline const uint8_t *bc_key(const mip6_bcache_t *t, int32_t slot)
{
    return bc_at(t->chunk, t->esize, (uint32_t)slot) + BC_FIXED;
}

static inline int bc_key_eq(const uint8_t *a, const uint8_t *b, unsigned klen)
{
    uint64_t d = (bc_load64(a) ^ bc_load64(b)) | (bc_load64(a + 8) ^ bc_load64(b + 8));
    if (klen == 32)
        d |= (bc_load64(a + 16) ^ bc_load64(b + 16)) | (bc_load64(a + 24) ^ bc_load64(b + 24));
    return d == 0;
}

static inline uint64_t *bc_live_word(const mip6_bcache_t *t, uint32_t slot)
{
    return &t->live[slot >> BC_CHUNK_SHIFT][(slot & (BC_CHUNK - 1)) >> 6];
}

static inline int bc_is_live(const mip6_bcache_t *t, uint32_t slot)
{
    return (*bc_live_word(t, slot) >> (slot & 63)) & 1;
}

/* The first live slot >= s and < t->hw, or t->hw. */
static uint32_t bc_next_live(const mip6_bcache_t *t, uint32_t s)
{
    while (s < t->hw) {
        uint64_t w = *bc_live_word(t, s) >> (s & 63);
        if (w) {
            s += (uint32_t)__builtin_ctzll(w);
            return s < t->hw ? s : t->hw;
        }
        s = (s | 63) + 1;
    }
    return t->hw;
}

/* Ask for transparent huge pages on big arrays: a lookup in a large table then misses the TLB far less
 * often. Advice only; failures are ignored. */
static void bc_advise_huge(void *p, size_t bytes)
{
#if defined(MADV_HUGEPAGE)
    const uintptr_t page = 4096;
    if (bytes < ((size_t)4 << 20))
        return;
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(page - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

/* Make room in the chunk and arena pointer arrays for `more` chunks and one arena. 0 or -1. */
static int bc_room(mip6_bcache_t *t, uint32_t more)
{
    if (t->nchunks + more > t->chunk_room) {
        uint32_t n = t->chunk_room * 2 > t->nchunks + more ? t->chunk_room * 2 : t->nchunks + more;
        uint8_t **c = bc_realloc(t->al, t->chunk, (size_t)n * sizeof(*c));
        if (!c)
            return -1;
        t->chunk = c;
        uint64_t **l = bc_realloc(t->al, t->live, (size_t)n * sizeof(*l));
        if (!l)
            return -1;
        t->live = l;
        t->chunk_room = n;
    }
    if (t->narenas + 1 > t->arena_room) {
        uint32_t n = t->arena_room ? t->arena_room * 2 : 4;
        void **a = bc_realloc(t->al, t->arena, (size_t)n * sizeof(*a));
        if (!a)
            return -1;
        t->arena = a;
        t->arena_room = n;
    }
    return 0;
}

/* Append k full chunks carved from one new arena. 0 or -1 (nothing changed). */
static int bc_add_chunks(mip6_bcache_t *t, uint32_t k)
{
    if (((uint64_t)t->nchunks + k) << BC_CHUNK_SHIFT > (uint64_t)INT32_MAX)
        return -1;
    if (bc_room(t, k) != 0)
        return -1;
    size_t cbytes = (size_t)BC_CHUNK * t->esize;
    uint8_t *a = bc_malloc(t->al, cbytes * k);
    if (!a)
        return -1;
    uint32_t i;
    for (i = 0; i < k; i++) {
        t->live[t->nchunks + i] = bc_calloc(t->al, BC_CHUNK_WORDS, sizeof(uint64_t));
        if (!t->live[t->nchunks + i])
            break;
    }
    if (i < k) {
        while (i--)
            bc_free(t->al, t->live[t->nchunks + i]);
        bc_free(t->al, a);
        return -1;
    }
    bc_advise_huge(a, cbytes * k);
    for (i = 0; i < k; i++)
        t->chunk[t->nchunks + i] = a + cbytes * i;
    t->arena[t->narenas++] = a;
    t->nchunks += k;
    t->entry_bytes += cbytes * k;
    t->cap = t->nchunks << BC_CHUNK_SHIFT;
    return 0;
}

/* Append the lone chunk with room for cap entries (< BC_CHUNK, or == when it is the only chunk). */
static int bc_add_lone(mip6_bcache_t *t, uint32_t cap)
{
    if (bc_room(t, 1) != 0)
        return -1;
    uint8_t *c = bc_malloc(t->al, (size_t)cap * t->esize);
    uint64_t *l = bc_calloc(t->al, BC_CHUNK_WORDS, sizeof(uint64_t));
    if (!c || !l) {
        bc_free(t->al, c);
        bc_free(t->al, l);
        return -1;
    }
    t->chunk[t->nchunks] = c;
    t->live[t->nchunks] = l;
    t->lone = (int32_t)t->nchunks++;
    t->lone_cap = cap;
    t->entry_bytes += (size_t)cap * t->esize;
    t->cap += cap;
    return 0;
}

/* Room for one more entry: a free slot, the lone chunk grown by half, or another arena of chunks
 * (as many as there are, up to BC_ARENA_MAX). 0 or -1 (no memory; nothing changed). */
static int bc_reserve_slot(mip6_bcache_t *t)
{
    if (t->free_head >= 0 || t->hw < t->cap)
        return 0;
    if (t->lone >= 0 && t->lone_cap < BC_CHUNK) { /* the lone chunk is the last one and not full */
        uint32_t ncap = t->lone_cap + t->lone_cap / 2 + 16;
        if (ncap > BC_CHUNK)
            ncap = BC_CHUNK;
        uint8_t *c = bc_realloc(t->al, t->chunk[t->lone], (size_t)ncap * t->esize);
        if (!c)
            return -1;
        t->chunk[t->lone] = c;
        t->entry_bytes += (size_t)(ncap - t->lone_cap) * t->esize;
        t->cap += ncap - t->lone_cap;
        t->lone_cap = ncap;
        return 0;
    }
    return bc_add_chunks(t, t->nchunks < BC_ARENA_MAX ? t->nchunks : BC_ARENA_MAX);
}

static int32_t bc_alloc_slot(mip6_bcache_t *t)
{
    int32_t s;
    if (t->free_head >= 0) {
        s = t->free_head;
        memcpy(&t->free_head, bc_entry(t, s)->coa, sizeof(int32_t));
        t->nfree--;
    } else {
        s = (int32_t)t->hw++;
    }
    *bc_live_word(t, (uint32_t)s) |= (uint64_t)1 << ((uint32_t)s & 63);
    t->len++;
    return s;
}

static void bc_free_slot(mip6_bcache_t *t, int32_t s)
{
    *bc_live_word(t, (uint32_t)s) &= ~((uint64_t)1 << ((uint32_t)s & 63));
    memcpy(bc_entry(t, s)->coa, &t->free_head, sizeof(int32_t));
    t->free_head = s;
    t->nfree++;
    t->len--;
}

/* ---- index ------------------------------------------------------------------------------------ */

static inline uint32_t bc_tag(uint64_t h, unsigned shift)
{
    return (uint32_t)(h >> (32 + shift)) << shift;
}

static inline uint32_t bc_threshold(const bc_index_t *ix)
{
    uint32_t nb = ix->mask + 1;
    return nb - nb / 4;
}

static int bc_index_alloc(const mip6_alloc_t *al, bc_index_t *ix, unsigned shift)
{
    size_t nb = (size_t)1 << shift;
    uint32_t *b = bc_calloc(al, nb, sizeof(uint32_t));
    if (!b)
        return -1;
    bc_advise_huge(b, nb * sizeof(uint32_t));
    ix->b = b;
    ix->mask = (uint32_t)(nb - 1);
    ix->shift = shift;
    ix->used = 0;
    ix->tombs = 0;
    return 0;
}

/* Position of key's bucket in ix, or -1. */
static inline int64_t bc_find_pos(const mip6_bcache_t *t, const bc_index_t *ix, uint64_t h, const uint8_t *key,
                                  unsigned klen)
{
    const uint32_t mask = ix->mask, tag = bc_tag(h, ix->shift);
    const uint32_t *b = ix->b;
    uint32_t i = (uint32_t)h & mask;
    for (;;) {
        uint32_t v = b[i];
        if (v == BC_EMPTY)
            return -1;
        if ((v ^ tag) <= mask && v != BC_TOMB && bc_key_eq(bc_key(t, (int32_t)(v & mask) - 1), key, klen))
            return i;
        i = (i + 1) & mask;
    }
}

static inline int32_t bc_find(const mip6_bcache_t *t, uint64_t h, const uint8_t *key, unsigned klen)
{
    int64_t p = bc_find_pos(t, &t->cur, h, key, klen);
    if (p >= 0)
        return (int32_t)(t->cur.b[p] & t->cur.mask) - 1;
    if (t->old.b) {
        p = bc_find_pos(t, &t->old, h, key, klen);
        if (p >= 0)
            return (int32_t)(t->old.b[p] & t->old.mask) - 1;
    }
    return -1;
}

/* Store slot s under hash h in the first empty or tombstone bucket from its home. The caller has made
 * sure the key is absent, ix has room (used < threshold) and s + 1 fits the slot field. */
static inline void bc_put(bc_index_t *ix, uint64_t h, int32_t s)
{
    const uint32_t mask = ix->mask;
    uint32_t i = (uint32_t)h & mask;
    while (ix->b[i] != BC_EMPTY && ix->b[i] != BC_TOMB)
        i = (i + 1) & mask;
    if (ix->b[i] == BC_TOMB)
        ix->tombs--;
    else
        ix->used++;
    ix->b[i] = bc_tag(h, ix->shift) | (uint32_t)(s + 1);
}

/* Remove the bucket at pos. When the next bucket is empty no probe sequence runs through pos, so it
 * (and the tombstones right before it) can become empty; otherwise it becomes a tombstone. */
static void bc_erase(bc_index_t *ix, uint32_t pos)
{
    const uint32_t mask = ix->mask;
    if (ix->b[(pos + 1) & mask] != BC_EMPTY) {
        ix->b[pos] = BC_TOMB;
        ix->tombs++;
        return;
    }
    ix->b[pos] = BC_EMPTY;
    ix->used--;
    for (uint32_t i = (pos - 1) & mask; ix->b[i] == BC_TOMB; i = (i - 1) & mask) {
        ix->b[i] = BC_EMPTY;
        ix->used--;
        ix->tombs--;
    }
}

/* Position of the bucket holding slot s (hash h) in ix, or -1. */
static int64_t bc_find_slot_pos(const bc_index_t *ix, uint64_t h, int32_t s)
{
    const uint32_t mask = ix->mask, want = bc_tag(h, ix->shift) | (uint32_t)(s + 1);
    uint32_t i = (uint32_t)h & mask;
    for (;;) {
        uint32_t v = ix->b[i];
        if (v == BC_EMPTY)
            return -1;
        if (v == want)
            return i;
        i = (i + 1) & mask;
    }
}

/* Move up to budget old buckets into cur; free the old index when it is empty. A moved bucket becomes
 * a tombstone (not empty) so probe sequences of keys not yet moved still run through it.
 * Each entry's key is read again to rehash it, a cache miss per entry in a large table. So the keys of
 * up to BC_MIGRATE_STEP buckets are prefetched before the first of them is hashed: their misses
 * overlap instead of queueing behind each SipHash (this halves the cost of an insert that grows a
 * table of a million entries). */
static void bc_migrate(mip6_bcache_t *t, uint32_t budget)
{
    bc_index_t *o = &t->old;
    if (!o->b)
        return;
    const uint32_t nb = o->mask + 1;
    const unsigned klen = t->key_len;
    while (budget && t->mig_pos < nb) {
        uint32_t end = nb - t->mig_pos < BC_MIGRATE_STEP ? nb : t->mig_pos + BC_MIGRATE_STEP;
        if (end - t->mig_pos > budget)
            end = t->mig_pos + budget;
        for (uint32_t p = t->mig_pos; p < end; p++) {
            uint32_t v = o->b[p];
            if (v != BC_EMPTY && v != BC_TOMB) {
                const uint8_t *k = bc_key(t, (int32_t)(v & o->mask) - 1);
                __builtin_prefetch(k);
                __builtin_prefetch(k + klen - 1);
            }
        }
        budget -= end - t->mig_pos;
        for (; t->mig_pos < end; t->mig_pos++) {
            uint32_t v = o->b[t->mig_pos];
            if (v != BC_EMPTY && v != BC_TOMB) {
                int32_t s = (int32_t)(v & o->mask) - 1;
                bc_put(&t->cur, bc_hash(t, bc_key(t, s), klen), s);
                o->b[t->mig_pos] = BC_TOMB;
            }
        }
    }
    if (t->mig_pos >= nb) {
        bc_free(t->al, o->b);
        memset(o, 0, sizeof(*o));
        t->mig_pos = 0;
    }
}

/* Start moving to a new index: twice the size when live entries fill at least half the threshold (or
 * the slot field needs another bit), the same size otherwise (to shed tombstones). 0 or -1. */
static int bc_start_growth(mip6_bcache_t *t, int must_double)
{
    if (t->old.b)
        bc_migrate(t, UINT32_MAX); /* finish the previous move first (rare: see BC_MIGRATE_STEP) */
    unsigned shift = t->cur.shift;
    if (must_double || (uint64_t)t->len + 1 > bc_threshold(&t->cur) / 2)
        shift++;
    if (shift > BC_MAX_SHIFT)
        return -1;
    bc_index_t n;
    if (bc_index_alloc(t->al, &n, shift) != 0)
        return -1;
    t->old = t->cur;
    t->cur = n;
    t->mig_pos = 0;
    return 0;
}

/* ---- public API ------------------------------------------------------------------------------- */

mip6_bcache_t *mip6_bcache_new(unsigned key_len, uint32_t capacity_hint, const uint8_t seed[16])
{
    return mip6_bcache_new_in(key_len, capacity_hint, seed, NULL);
}

mip6_bcache_t *mip6_bcache_new_in(unsigned key_len, uint32_t capacity_hint, const uint8_t seed[16],
                                  const mip6_alloc_t *al)
{
    if (key_len != 16 && key_len != 32)
        return NULL;
    mip6_bcache_t *t = bc_calloc(al, 1, sizeof(*t));
    if (!t)
        return NULL;
    t->al = al;
    uint8_t rnd[16];
    if (!seed) {
        bc_random_seed(rnd);
        seed = rnd;
    }
    bc_sip_init(t->sip, seed);
    t->key_len = key_len;
    t->esize = BC_FIXED + key_len;
    t->free_head = -1;
    t->lone = -1;
    t->min_expiry = UINT64_MAX;
    if (capacity_hint > MIP6_BCACHE_MAX_ENTRIES)
        capacity_hint = MIP6_BCACHE_MAX_ENTRIES;
    unsigned shift = BC_MIN_SHIFT;
    while (shift < BC_MAX_SHIFT && (((uint64_t)1 << shift) * 3 / 4) < capacity_hint)
        shift++;
    if (bc_index_alloc(t->al, &t->cur, shift) != 0)
        goto fail;
    /* Exactly the hint: whole chunks in one arena, the rest in the lone chunk. */
    uint32_t full = capacity_hint / BC_CHUNK, rest = capacity_hint % BC_CHUNK;
    if (full && bc_add_chunks(t, full) != 0)
        goto fail;
    if ((rest || !full) && bc_add_lone(t, full || rest >= 8 ? rest : 8) != 0)
        goto fail;
    return t;
fail:
    mip6_bcache_free(t);
    return NULL;
}

void mip6_bcache_free(mip6_bcache_t *t)
{
    if (!t)
        return;
    if (t->lone >= 0)
        bc_free(t->al, t->chunk[t->lone]);
    for (uint32_t i = 0; i < t->narenas; i++)
        bc_free(t->al, t->arena[i]);
    for (uint32_t i = 0; i < t->nchunks; i++)
        bc_free(t->al, t->live[i]);
    bc_free(t->al, t->arena);
    bc_free(t->al, t->chunk);
    bc_free(t->al, t->live);
    bc_free(t->al, t->cur.b);
    bc_free(t->al, t->old.b);
    const mip6_alloc_t *al = t->al;
    bc_free(al, t);
}

uint32_t mip6_bcache_len(const mip6_bcache_t *t) { return t->len; }

unsigned mip6_bcache_key_len(const mip6_bcache_t *t) { return t->key_len; }

size_t mip6_bcache_entry_size(const mip6_bcache_t *t) { return t->esize; }

size_t mip6_bcache_memory(const mip6_bcache_t *t)
{
    size_t m = sizeof(*t) + t->entry_bytes + (size_t)t->nchunks * BC_CHUNK_WORDS * sizeof(uint64_t) +
               (size_t)t->chunk_room * (sizeof(uint8_t *) + sizeof(uint64_t *)) + t->arena_room * sizeof(void *);
    m += ((size_t)t->cur.mask + 1) * sizeof(uint32_t);
    if (t->old.b)
        m += ((size_t)t->old.mask + 1) * sizeof(uint32_t);
    return m;
}

uint64_t mip6_bcache_hash(const mip6_bcache_t *t, const uint8_t *key) { return bc_hash(t, key, t->key_len); }

void mip6_bcache_hash_batch(const mip6_bcache_t *t, const uint8_t *keys, size_t stride, uint32_t n, uint64_t *out)
{
    const int x4 = bc_x4_ok();
    uint32_t i = 0;
    if (x4)
        for (; n - i >= 4; i += 4)
            bc_hash_x4(t, keys + (size_t)i * stride, stride, t->key_len, out + i);
    for (; i < n; i++)
        out[i] = bc_hash(t, keys + (size_t)i * stride, t->key_len);
}

int32_t mip6_bcache_lookup(const mip6_bcache_t *t, const uint8_t *key)
{
    return bc_find(t, bc_hash(t, key, t->key_len), key, t->key_len);
}

/* Software-pipelined batch lookup in three stages:
 *   A (key i):               hash, prefetch the home bucket's cache line;
 *   B (key i - BC_PF_B):     scan from the home bucket to the first bucket whose tag matches (the
 *                            candidate slot, whose entry key is then prefetched) or to an empty bucket
 *                            (a miss);
 *   C (key i - BC_PF_B - BC_PF_C): compare the candidate's key. A tag match on the wrong key (rare: one in
 *                            2^(32 - log2 nbuckets) per bucket looked at) or a table in the middle of
 *                            growing falls back to the full lookup.
 * So the memory latency of one key overlaps with the work on the keys around it: in a table far larger
 * than the caches a batch runs at the rate the core can keep misses in flight. */
static inline void bc_lookup_batch_impl(const mip6_bcache_t *t, const uint8_t *keys, size_t stride, uint32_t n,
                                        int32_t *out, const unsigned klen)
{
    const uint32_t *b = t->cur.b;
    const uint32_t mask = t->cur.mask;
    const unsigned shift = t->cur.shift;
    const int growing = t->old.b != NULL;
    uint8_t *const *chunk = t->chunk;
    const unsigned esize = t->esize;
    uint64_t hr[BC_RING];
    int32_t cr[BC_RING];
    const uint64_t DB = BC_PF_B, DC = BC_PF_B + BC_PF_C;
    const int x4 = bc_x4_ok();
    uint64_t hashed = 0; /* keys [0, hashed) have their hash in hr */

    for (uint64_t i = 0; i < (uint64_t)n + DC; i++) {
        if (i < n && i == hashed) {
            /* Four keys at a time where the CPU allows (their ring slots never wrap: BC_RING is a
             * multiple of 4 and so is i here), else one. */
            uint64_t *hp = &hr[i & (BC_RING - 1)];
            unsigned m = 1;
            if (x4 && n - i >= 4) {
                bc_hash_x4(t, keys + (size_t)i * stride, stride, klen, hp);
                m = 4;
            } else {
                *hp = bc_hash(t, keys + (size_t)i * stride, klen);
            }
            for (unsigned j = 0; j < m; j++)
                __builtin_prefetch(&b[(uint32_t)hp[j] & mask]);
            hashed += m;
        }
        if (i >= DB && i - DB < n) {
            uint64_t j = i - DB, h = hr[j & (BC_RING - 1)];
            const uint32_t tag = bc_tag(h, shift);
            uint32_t p = (uint32_t)h & mask;
            int32_t c = -1;
            for (;;) {
                uint32_t v = b[p];
                if (v == BC_EMPTY)
                    break;
                if ((v ^ tag) <= mask && v != BC_TOMB) {
                    c = (int32_t)(v & mask) - 1;
                    const uint8_t *k = bc_at(chunk, esize, (uint32_t)c) + BC_FIXED;
                    __builtin_prefetch(k);
                    __builtin_prefetch(k + klen - 1);
                    break;
                }
                p = (p + 1) & mask;
            }
            cr[j & (BC_RING - 1)] = c;
        }
        if (i >= DC) {
            uint64_t k = i - DC;
            const uint8_t *key = keys + (size_t)k * stride;
            int32_t c = cr[k & (BC_RING - 1)];
            if (c >= 0 && bc_key_eq(bc_at(chunk, esize, (uint32_t)c) + BC_FIXED, key, klen))
                out[k] = c;
            else if (c < 0 && !growing)
                out[k] = -1;
            else
                out[k] = bc_find(t, hr[k & (BC_RING - 1)], key, klen);
        }
    }
}

void mip6_bcache_lookup_batch(const mip6_bcache_t *t, const uint8_t *keys, size_t stride, uint32_t n,
                              int32_t *slots_out)
{
    if (t->key_len == 16)
        bc_lookup_batch_impl(t, keys, stride, n, slots_out, 16);
    else
        bc_lookup_batch_impl(t, keys, stride, n, slots_out, 32);
}

mip6_binding_t *mip6_bcache_entry(mip6_bcache_t *t, int32_t slot)
{
    if (slot < 0 || (uint32_t)slot >= t->hw || !bc_is_live(t, (uint32_t)slot))
        return NULL;
    return bc_entry(t, slot);
}

/* Keep min_expiry a lower bound, and restart a sweep in progress that has already passed slots where
 * an entry now expires within its now_ns. */
static inline void bc_note_expiry(mip6_bcache_t *t, uint64_t expiry_ns)
{
    if (expiry_ns < t->min_expiry)
        t->min_expiry = expiry_ns;
    if (expiry_ns < t->sweep_min)
        t->sweep_min = expiry_ns;
    if (t->exp_cursor && expiry_ns <= t->exp_now)
        t->exp_cursor = 0;
}

mip6_bc_outcome_t mip6_bcache_update(mip6_bcache_t *t, const uint8_t *key, const uint8_t coa[16], uint16_t seq,
                                     uint16_t flags, uint64_t expiry_ns, uint16_t *last_seq, int32_t *slot)
{
    const unsigned klen = t->key_len;
    const uint64_t h = bc_hash(t, key, klen);
    int32_t s = bc_find(t, h, key, klen);
    if (s >= 0) {
        mip6_binding_t *e = bc_entry(t, s);
        uint16_t last = e->seq;
        if (slot)
            *slot = s;
        if (!mip6_bcache_seq_newer(seq, last)) { /* RFC 6275 §9.5.1 */
            if (last_seq)
                *last_seq = last;
            return MIP6_BC_STALE;
        }
        memcpy(e->coa, coa, 16);
        e->seq = seq;
        e->flags = flags;
        e->expiry_ns = expiry_ns;
        bc_note_expiry(t, expiry_ns);
        if (last_seq)
            *last_seq = seq;
        return MIP6_BC_UPDATED;
    }

    if (last_seq)
        *last_seq = seq;
    if (slot)
        *slot = -1;
    /* Everything that can fail happens before the table changes. */
    if (t->len >= MIP6_BCACHE_MAX_ENTRIES || bc_reserve_slot(t) != 0)
        return MIP6_BC_NOMEM;
    bc_migrate(t, BC_MIGRATE_STEP); /* moves buckets between indexes only: nothing a caller can see */
    uint32_t next = t->free_head >= 0 ? (uint32_t)t->free_head : t->hw;
    int must_double = next + 1 >= t->cur.mask; /* slot + 1 must stay below the all-ones slot field */
    if (t->cur.used + 1 > bc_threshold(&t->cur) || must_double) {
        if (bc_start_growth(t, must_double) != 0)
            return MIP6_BC_NOMEM;
    }

    s = bc_alloc_slot(t);
    mip6_binding_t *e = bc_entry(t, s);
    memcpy(e->coa, coa, 16);
    e->seq = seq;
    e->flags = flags;
    e->expiry_ns = expiry_ns;
    e->packets = 0;
    e->bytes = 0;
    memcpy(e->key, key, klen);
    bc_put(&t->cur, h, s);
    bc_note_expiry(t, expiry_ns);
    if (slot)
        *slot = s;
    return MIP6_BC_CREATED;
}

/* Remove slot s (hash h) from whichever index holds it and free the slot. */
static void bc_remove(mip6_bcache_t *t, uint64_t h, int32_t s)
{
    int64_t p = bc_find_slot_pos(&t->cur, h, s);
    if (p >= 0) {
        bc_erase(&t->cur, (uint32_t)p);
    } else if (t->old.b) {
        p = bc_find_slot_pos(&t->old, h, s);
        if (p >= 0)
            t->old.b[p] = BC_TOMB; /* never emptied: see bc_migrate */
    }
    bc_free_slot(t, s);
    bc_migrate(t, BC_MIGRATE_STEP);
}

int mip6_bcache_delete(mip6_bcache_t *t, const uint8_t *key)
{
    const uint64_t h = bc_hash(t, key, t->key_len);
    int32_t s = bc_find(t, h, key, t->key_len);
    if (s < 0)
        return 0;
    bc_remove(t, h, s);
    return 1;
}

mip6_bc_outcome_t mip6_bcache_delete_if_newer(mip6_bcache_t *t, const uint8_t *key, uint16_t seq,
                                              uint16_t *last_seq, int32_t *slot)
{
    const uint64_t h = bc_hash(t, key, t->key_len);
    int32_t s = bc_find(t, h, key, t->key_len);
    if (slot)
        *slot = s;
    if (last_seq)
        *last_seq = seq;
    if (s < 0)
        return MIP6_BC_ABSENT;
    uint16_t last = bc_entry(t, s)->seq;
    if (!mip6_bcache_seq_newer(seq, last)) { /* RFC 6275 §9.5.1: the binding stays */
        if (last_seq)
            *last_seq = last;
        return MIP6_BC_STALE;
    }
    bc_remove(t, h, s);
    return MIP6_BC_DELETED;
}

uint32_t mip6_bcache_expire(mip6_bcache_t *t, uint64_t now_ns, uint8_t *keys_out, uint32_t max)
{
    if (max == 0)
        return 0;
    if (t->exp_cursor == 0 || now_ns != t->exp_now) {
        if (now_ns < t->min_expiry)
            return 0; /* nothing can be due */
        t->exp_now = now_ns;
        t->exp_cursor = 0;
        t->sweep_min = UINT64_MAX;
    }
    const unsigned klen = t->key_len;
    uint32_t n = 0;
    for (uint32_t s = bc_next_live(t, t->exp_cursor); s < t->hw; s = bc_next_live(t, s + 1)) {
        const mip6_binding_t *e = bc_entry(t, (int32_t)s);
        uint64_t exp = e->expiry_ns;
        if (exp <= now_ns) {
            if (n == max) {
                t->exp_cursor = s; /* > 0: at least one slot before it was deleted in this call */
                return n;
            }
            const uint8_t *k = bc_key(t, (int32_t)s);
            if (keys_out)
                memcpy(keys_out + (size_t)n * klen, k, klen);
            bc_remove(t, bc_hash(t, k, klen), (int32_t)s);
            n++;
        } else if (exp < t->sweep_min) {
            t->sweep_min = exp;
        }
    }
    t->exp_cursor = 0;
    t->min_expiry = t->sweep_min;
    return n;
}

int32_t mip6_bcache_next(const mip6_bcache_t *t, int32_t after)
{
    if (after < -1)
        after = -1;
    if ((int64_t)after + 1 >= (int64_t)t->hw)
        return -1;
    uint32_t s = bc_next_live(t, (uint32_t)(after + 1));
    return s < t->hw ? (int32_t)s : -1;
}

void mip6_bcache_stats(const mip6_bcache_t *t, mip6_bcache_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->len = t->len;
    st->high_water = t->hw;
    st->entry_capacity = t->cap;
    st->free_slots = t->nfree;
    st->nbuckets = t->cur.mask + 1;
    st->used = t->cur.used;
    st->tombstones = t->cur.tombs;
    if (t->old.b) {
        st->old_nbuckets = t->old.mask + 1;
        st->old_remaining = t->old.mask + 1 - t->mig_pos;
    }
    for (int32_t s = mip6_bcache_next(t, -1); s >= 0; s = mip6_bcache_next(t, s)) {
        uint64_t h = bc_hash(t, bc_key(t, s), t->key_len);
        int64_t p = bc_find_slot_pos(&t->cur, h, s);
        if (p < 0)
            continue; /* still in the old index */
        uint32_t d = (((uint32_t)p - (uint32_t)h) & t->cur.mask) + 1;
        if (d > st->max_probe)
            st->max_probe = d;
    }
}
