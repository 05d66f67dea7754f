/*
 * minimal: the constant overhead of a call. Increments a global and returns it mixed with the
 * argument; the argument is not a loop count.
 *
 * Checksum (fresh instance, first call): (1 << 32) | n.
 * Memory: 8 bytes of rw data.
 */
#include "bench_util.h"

static uint64_t counter;

PVM_EXPORT(uint64_t, bench_minimal, uint64_t, n)
{
    counter += 1;
    return (counter << 32) | (n & 0xffffffffu);
}
