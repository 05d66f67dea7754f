/*
 * fib: naive doubly recursive Fibonacci, a call-heavy program (about 1.6 calls per unit of
 * work, each with a stack frame, a return and an unpredictable-looking depth), the shape of
 * code that walks nested structures recursively.
 *
 * `fib` is kept out of line and folds its argument into a hash on the way back, so the
 * compiler can neither inline the recursion away nor turn it into a loop (clang does that to
 * a bare `fib(n - 1) + fib(n - 2)` with accumulator recursion elimination).
 *
 * Checksum: fib(n) mixed with the sum over every call of its argument. Memory: stack only,
 * depth n frames (n is capped at 40: under 4 KiB of stack at 32 bytes or so per frame).
 */
#include "bench_util.h"

__attribute__((noinline)) static uint64_t fib(uint64_t n, uint64_t *calls)
{
    *calls += n;
    if (n < 2) {
        return n;
    }
    uint64_t a = fib(n - 1, calls);
    uint64_t b = fib(n - 2, calls);
    return a + b;
}

PVM_EXPORT(uint64_t, bench_fib, uint64_t, n)
{
    if (n > 40) {
        n = 40;
    }
    uint64_t calls = 0;
    uint64_t value = fib(n, &calls);
    return bench_mix(bench_mix(0, value), calls);
}
