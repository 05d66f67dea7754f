/*
 * matmul: C = A * B for n x n matrices of u32 (wrapping arithmetic), i-k-j loop order.
 *
 * Checksum: a hash of C.
 * Memory: three MAX_DIM^2 u32 matrices (3 MiB of bss); n is capped at MAX_DIM.
 */
#include "bench_util.h"

#define MAX_DIM 512

static uint32_t a[MAX_DIM * MAX_DIM];
static uint32_t b[MAX_DIM * MAX_DIM];
static uint32_t c[MAX_DIM * MAX_DIM];

PVM_EXPORT(uint64_t, bench_matmul, uint64_t, n)
{
    if (n > MAX_DIM) {
        n = MAX_DIM;
    }
    size_t dim = (size_t)n;
    bench_rng rng = {3};
    for (size_t i = 0; i < dim * dim; i++) {
        a[i] = (uint32_t)bench_rng_next(&rng) & 0xffff;
        b[i] = (uint32_t)bench_rng_next(&rng) & 0xffff;
        c[i] = 0;
    }
    for (size_t i = 0; i < dim; i++) {
        uint32_t *row = &c[i * dim];
        for (size_t k = 0; k < dim; k++) {
            uint32_t x = a[i * dim + k];
            const uint32_t *brow = &b[k * dim];
            for (size_t j = 0; j < dim; j++) {
                row[j] += x * brow[j];
            }
        }
    }
    uint64_t hash = 0;
    for (size_t i = 0; i < dim * dim; i++) {
        hash = hash * 31 + c[i];
    }
    return bench_mix(hash, n);
}
