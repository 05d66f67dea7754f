/*
 * A native driver for the benchmark programs: links them all (their exports have distinct
 * names and everything else is static) and runs one export.
 *
 *   cc -O2 -I../../guest/include native_run.c minimal.c prime_sieve.c ... -o native_run
 *   ./native_run bench_sort 100000 [REPEAT]
 *
 * prints "EXPORT ARG CHECKSUM MILLISECONDS" (the fastest of REPEAT runs, default 1).
 * testdata/bench-programs/build.sh builds it as part of checking the manifest.
 */
#define _POSIX_C_SOURCE 199309L
#include "pvm_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_minimal(uint64_t n);
uint64_t bench_prime_sieve(uint64_t n);
uint64_t bench_memset(uint64_t n);
uint64_t bench_memcpy(uint64_t n);
uint64_t bench_keccak(uint64_t n);
uint64_t bench_sort(uint64_t n);
uint64_t bench_matmul(uint64_t n);
uint64_t bench_minilang(uint64_t n);
uint64_t bench_fib(uint64_t n);
uint64_t bench_scale_decode(uint64_t n);

static const struct {
    const char *name;
    uint64_t (*run)(uint64_t);
} programs[] = {
    {"bench_minimal", bench_minimal},   {"bench_prime_sieve", bench_prime_sieve},
    {"bench_memset", bench_memset},     {"bench_memcpy", bench_memcpy},
    {"bench_keccak", bench_keccak},     {"bench_sort", bench_sort},
    {"bench_matmul", bench_matmul},     {"bench_minilang", bench_minilang},
    {"bench_fib", bench_fib},           {"bench_scale_decode", bench_scale_decode},
};

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s EXPORT ARG [REPEAT]\n", argv[0]);
        return 2;
    }
    uint64_t arg = strtoull(argv[2], NULL, 0);
    int repeat = argc > 3 ? atoi(argv[3]) : 1;
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        if (strcmp(programs[i].name, argv[1]) != 0) {
            continue;
        }
        double best = 1e30;
        uint64_t result = 0;
        for (int r = 0; r < repeat; r++) {
            struct timespec start, end;
            clock_gettime(CLOCK_MONOTONIC, &start);
            uint64_t value = programs[i].run(arg);
            if (r == 0) {
                result = value; /* the checksum of a fresh instance */
            }
            clock_gettime(CLOCK_MONOTONIC, &end);
            double ms = (double)(end.tv_sec - start.tv_sec) * 1e3 +
                        (double)(end.tv_nsec - start.tv_nsec) / 1e6;
            if (ms < best) {
                best = ms;
            }
        }
        printf("%s %llu %llu %.3f\n", argv[1], (unsigned long long)arg,
               (unsigned long long)result, best);
        return 0;
    }
    fprintf(stderr, "unknown export %s\n", argv[1]);
    return 2;
}
