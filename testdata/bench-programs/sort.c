/*
 * sort: quicksort (median of three, insertion sort below 24 elements, recursion on the
 * smaller side only, so the depth stays below log2 n) of n pseudo-random u32s.
 *
 * Checksum: 0 if the result is not sorted, otherwise a position-weighted hash of the array.
 * Memory: MAX_ELEMENTS u32s (4 MiB of bss); n is capped there. Stack: under 4 KiB.
 */
#include "bench_util.h"

#define MAX_ELEMENTS (1024u * 1024)

static uint32_t values[MAX_ELEMENTS];

static void insertion_sort(uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static inline void swap(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void quicksort(uint32_t *a, size_t n)
{
    while (n > 24) {
        size_t mid = n / 2;
        if (a[mid] < a[0]) swap(&a[mid], &a[0]);
        if (a[n - 1] < a[0]) swap(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid]) swap(&a[n - 1], &a[mid]);
        uint32_t pivot = a[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            swap(&a[i], &a[j]);
            i++;
            j--;
        }
        size_t left = j + 1; /* a[0..left) <= pivot <= a[left..n) */
        if (left < n - left) {
            quicksort(a, left);
            a += left;
            n -= left;
        } else {
            quicksort(a + left, n - left);
            n = left;
        }
    }
    insertion_sort(a, n);
}

PVM_EXPORT(uint64_t, bench_sort, uint64_t, n)
{
    if (n > MAX_ELEMENTS) {
        n = MAX_ELEMENTS;
    }
    bench_rng rng = {7};
    for (size_t i = 0; i < n; i++) {
        values[i] = (uint32_t)bench_rng_next(&rng);
    }
    quicksort(values, (size_t)n);
    uint64_t hash = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && values[i - 1] > values[i]) {
            return 0;
        }
        hash += (uint64_t)values[i] * (i + 1);
    }
    return bench_mix(hash, n);
}
