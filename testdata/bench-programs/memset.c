/*
 * memset: memset bandwidth. n passes, each filling most of a 1 MiB buffer with a different
 * byte value at a different (often unaligned) offset and length.
 *
 * On PVM and wasm32 this measures guest/libc's memset as compiled for the target; natively it
 * measures the host C library's memset.
 *
 * Checksum: a few bytes sampled after every pass, mixed.
 * Memory: 1 MiB of bss.
 */
#include "bench_util.h"

#define BUFFER_SIZE (1024u * 1024)

static uint8_t buffer[BUFFER_SIZE];

PVM_EXPORT(uint64_t, bench_memset, uint64_t, n)
{
    uint64_t hash = 0;
    for (uint64_t pass = 0; pass < n; pass++) {
        size_t offset = (size_t)(pass * 7 % 64);
        size_t length = BUFFER_SIZE - 64 - (size_t)(pass * 13 % 256);
        memset(buffer + offset, (int)(pass * 31 + 1), length);
        size_t probe = (size_t)((pass * 65537) % BUFFER_SIZE);
        hash = bench_mix(hash, buffer[probe]);
        hash = bench_mix(hash, buffer[offset + length - 1]);
        hash = bench_mix(hash, buffer[offset + length]);
    }
    return hash;
}
