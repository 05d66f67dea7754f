/*
 * The freestanding C library subset for PVM and wasm32 guests: memset, memcpy, memmove,
 * memcmp, strlen. The compiler emits calls to the first three for struct copies,
 * initializers and recognized loops, so every guest links this file.
 *
 * Build it with -fno-builtin (guest/build.sh does): otherwise the compiler may recognize the
 * loops below as memset/memcpy and turn them into calls to themselves.
 *
 * The loops move eight bytes at a time once the destination is aligned; unaligned 64-bit
 * accesses are allowed on PVM (and wasm), so the source need not be.
 */
#include "pvm_guest.h"

typedef uint64_t __attribute__((may_alias, aligned(1))) pvm_u64_unaligned;

void *memset(void *dst, int value, size_t count)
{
    unsigned char *d = (unsigned char *)dst;
    unsigned char byte = (unsigned char)value;
    while (count != 0 && ((uintptr_t)d & 7) != 0) {
        *d++ = byte;
        count--;
    }
    uint64_t word = byte * 0x0101010101010101ull;
    while (count >= 8) {
        *(pvm_u64_unaligned *)d = word;
        d += 8;
        count -= 8;
    }
    while (count != 0) {
        *d++ = byte;
        count--;
    }
    return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t count)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (count != 0 && ((uintptr_t)d & 7) != 0) {
        *d++ = *s++;
        count--;
    }
    while (count >= 8) {
        *(pvm_u64_unaligned *)d = *(const pvm_u64_unaligned *)s;
        d += 8;
        s += 8;
        count -= 8;
    }
    while (count != 0) {
        *d++ = *s++;
        count--;
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t count)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    if (d == s || count == 0) {
        return dst;
    }
    if (d < s || d >= s + count) {
        /* No overlap that a forward copy would trample. */
        while (count >= 8) {
            *(pvm_u64_unaligned *)d = *(const pvm_u64_unaligned *)s;
            d += 8;
            s += 8;
            count -= 8;
        }
        while (count != 0) {
            *d++ = *s++;
            count--;
        }
        return dst;
    }
    /* The destination overlaps the source from above: copy backwards. */
    d += count;
    s += count;
    while (count >= 8) {
        d -= 8;
        s -= 8;
        count -= 8;
        *(pvm_u64_unaligned *)d = *(const pvm_u64_unaligned *)s;
    }
    while (count != 0) {
        *--d = *--s;
        count--;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t count)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;
    for (size_t i = 0; i < count; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}
