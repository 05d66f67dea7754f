/*
 * prime-sieve: the sieve of Eratosthenes over the odd numbers below n, one bit per odd number.
 *
 * Checksum: the number of primes below n mixed with their sum and every 1024th prime
 * (n is capped at SIEVE_LIMIT).
 * Memory: SIEVE_LIMIT / 16 bytes of bss (2 MiB).
 */
#include "bench_util.h"

#define SIEVE_LIMIT (32u * 1024 * 1024)

/* Bit i of the array says whether 2 * i + 1 is composite. */
static uint64_t composite[SIEVE_LIMIT / 128];

PVM_EXPORT(uint64_t, bench_prime_sieve, uint64_t, n)
{
    if (n > SIEVE_LIMIT) {
        n = SIEVE_LIMIT;
    }
    if (n < 3) {
        return 0;
    }
    uint64_t odd_count = n / 2; /* the odd numbers 1, 3, .., below n */
    uint64_t words = (odd_count + 63) / 64;
    memset(composite, 0, words * sizeof(uint64_t));
    for (uint64_t i = 1; (2 * i + 1) * (2 * i + 1) < n; i++) {
        if (composite[i / 64] >> (i % 64) & 1) {
            continue;
        }
        uint64_t p = 2 * i + 1;
        for (uint64_t j = (p * p) / 2; j < odd_count; j += p) {
            composite[j / 64] |= 1ull << (j % 64);
        }
    }
    uint64_t count = 1; /* 2 */
    uint64_t sum = 2;
    uint64_t hash = 0;
    for (uint64_t i = 1; i < odd_count; i++) {
        if (!(composite[i / 64] >> (i % 64) & 1)) {
            uint64_t p = 2 * i + 1;
            count++;
            sum += p;
            if ((count & 1023) == 0) {
                hash = bench_mix(hash, p);
            }
        }
    }
    return bench_mix(bench_mix(hash, count), sum);
}
