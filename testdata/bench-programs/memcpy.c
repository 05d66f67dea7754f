/*
 * memcpy: memcpy (and memmove) bandwidth. n passes, each copying most of a 1 MiB buffer to
 * another at varying, often unaligned, offsets, then an overlapping memmove of 64 KiB.
 *
 * On PVM and wasm32 this measures guest/libc's memcpy/memmove; natively the host C library's.
 *
 * Checksum: bytes sampled after every pass, mixed.
 * Memory: 2 MiB of bss.
 */
#include "bench_util.h"

#define BUFFER_SIZE (1024u * 1024)

static uint8_t source[BUFFER_SIZE];
static uint8_t destination[BUFFER_SIZE];

PVM_EXPORT(uint64_t, bench_memcpy, uint64_t, n)
{
    bench_rng rng = {42};
    for (size_t i = 0; i < BUFFER_SIZE; i += 8) {
        uint64_t value = bench_rng_next(&rng);
        memcpy(source + i, &value, 8);
    }
    uint64_t hash = 0;
    for (uint64_t pass = 0; pass < n; pass++) {
        size_t from = (size_t)(pass * 5 % 64);
        size_t to = (size_t)(pass * 11 % 64);
        size_t length = BUFFER_SIZE - 64 - (size_t)(pass * 17 % 512);
        memcpy(destination + to, source + from, length);
        size_t shift = (size_t)(pass % 31 + 1);
        memmove(destination + shift, destination, 65536);
        size_t probe = (size_t)((pass * 65537) % (BUFFER_SIZE - 64));
        hash = bench_mix(hash, destination[probe]);
        hash = bench_mix(hash, destination[to + length - 1]);
        source[probe] ^= destination[probe + 1];
    }
    return hash;
}
