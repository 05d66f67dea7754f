/*
 * Shared helpers for the benchmark programs: a deterministic pseudo-random generator and a
 * checksum mixer. Everything is `static inline`, so each program stays self-contained when
 * compiled for PVM, wasm32 or natively.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include "pvm_guest.h"

/* SplitMix64: a small, fast, well-mixed 64-bit generator. */
typedef struct {
    uint64_t state;
} bench_rng;

static inline uint64_t bench_rng_next(bench_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Folds a value into a running checksum (order-sensitive). */
static inline uint64_t bench_mix(uint64_t hash, uint64_t value)
{
    hash ^= value + 0x9e3779b97f4a7c15ull + (hash << 6) + (hash >> 2);
    return hash * 0x100000001b3ull;
}

#endif
