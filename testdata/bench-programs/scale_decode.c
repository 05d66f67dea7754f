/*
 * scale-decode: a branchy parser, as a runtime decodes extrinsics and storage values. A
 * buffer of SCALE-encoded records (the codec of Substrate) is built once from a fixed seed,
 * then decoded n times in full, every value folded into a checksum.
 *
 * A record is an enum: a tag byte, then
 *   0: a compact integer (SCALE's four modes: 1, 2 and 4 bytes, and the big-integer mode
 *      with 4 to 7 payload bytes, all occurring);
 *   1: a byte vector (compact length, then the bytes; lengths 0-40);
 *   2: a vector of compact integers (compact count 0-6, then the items);
 *   3: an optional u32 (0 for none, 1 then 4 little-endian bytes);
 *   4: a pair (u64 little-endian, then a bool byte);
 *   5: a nested vector: a vector (compact count 0-4) of byte vectors (lengths 0-12).
 * Every decode checks what it reads (unknown tag, bad bool, bad option byte, reading past
 * the end) and returns 0 for a malformed buffer, which the fixed buffer never is.
 *
 * Checksum: the mix of every decoded value of every pass. Memory: a 64 KiB buffer in bss.
 */
#include "bench_util.h"

#define BUFFER_SIZE (64u * 1024)
#define RECORDS 2000u

static uint8_t buffer[BUFFER_SIZE];
static size_t buffer_len;

/* ---- encoding (run once) ---- */

/* A record past the buffer's end is dropped, which the decoder then reports as malformed
 * (checksum 0) rather than writing out of bounds. */
static void put(uint8_t byte)
{
    if (buffer_len < BUFFER_SIZE) {
        buffer[buffer_len++] = byte;
    }
}

static void put_le(uint64_t value, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        put((uint8_t)(value >> (8 * i)));
    }
}

static void put_compact(uint64_t value)
{
    if (value < (1u << 6)) {
        put((uint8_t)(value << 2));
    } else if (value < (1u << 14)) {
        put_le((value << 2) | 1, 2);
    } else if (value < (1u << 30)) {
        put_le((value << 2) | 2, 4);
    } else {
        unsigned bytes = 4;
        while (bytes < 8 && (value >> (8 * bytes)) != 0) {
            bytes++;
        }
        put((uint8_t)(((bytes - 4) << 2) | 3));
        put_le(value, bytes);
    }
}

/* A value whose compact encoding takes each mode in turn, with varied magnitudes. */
static uint64_t compact_value(bench_rng *rng)
{
    uint64_t r = bench_rng_next(rng);
    switch (r & 3) {
    case 0: return (r >> 8) & 0x3f;
    case 1: return (r >> 8) & 0x3fff;
    case 2: return (r >> 8) & 0x3fffffff;
    /* The big-integer mode: 2^30 up to 2^56, so 4 to 7 payload bytes. */
    default: return ((r >> 8) >> ((r >> 3) & 31)) | (1ull << 30);
    }
}

static void build(void)
{
    bench_rng rng = {2024};
    buffer_len = 0;
    put_compact(RECORDS);
    for (unsigned i = 0; i < RECORDS; i++) {
        uint64_t r = bench_rng_next(&rng);
        uint8_t tag = (uint8_t)(r % 6);
        put(tag);
        switch (tag) {
        case 0:
            put_compact(compact_value(&rng));
            break;
        case 1: {
            unsigned len = (unsigned)((r >> 8) % 41);
            put_compact(len);
            for (unsigned j = 0; j < len; j++) {
                put((uint8_t)(bench_rng_next(&rng) >> 13));
            }
            break;
        }
        case 2: {
            unsigned count = (unsigned)((r >> 8) % 7);
            put_compact(count);
            for (unsigned j = 0; j < count; j++) {
                put_compact(compact_value(&rng));
            }
            break;
        }
        case 3:
            if ((r >> 8) & 1) {
                put(1);
                put_le(r >> 16, 4);
            } else {
                put(0);
            }
            break;
        case 4:
            put_le(bench_rng_next(&rng), 8);
            put((uint8_t)((r >> 8) & 1));
            break;
        default: {
            unsigned count = (unsigned)((r >> 8) % 5);
            put_compact(count);
            for (unsigned j = 0; j < count; j++) {
                unsigned len = (unsigned)(bench_rng_next(&rng) % 13);
                put_compact(len);
                for (unsigned k = 0; k < len; k++) {
                    put((uint8_t)(bench_rng_next(&rng) >> 21));
                }
            }
            break;
        }
        }
    }
}

/* ---- decoding (the measured work) ---- */

typedef struct {
    const uint8_t *at;
    const uint8_t *end;
    int ok;
} reader;

static uint8_t get(reader *in)
{
    if (in->at >= in->end) {
        in->ok = 0;
        return 0;
    }
    return *in->at++;
}

static uint64_t get_le(reader *in, unsigned bytes)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < bytes; i++) {
        value |= (uint64_t)get(in) << (8 * i);
    }
    return value;
}

static uint64_t get_compact(reader *in)
{
    uint8_t first = get(in);
    switch (first & 3) {
    case 0: return first >> 2;
    case 1: return (first | ((uint64_t)get(in) << 8)) >> 2;
    case 2: return (first | (get_le(in, 3) << 8)) >> 2;
    default: {
        unsigned bytes = (first >> 2) + 4;
        if (bytes > 8) {
            in->ok = 0;
            return 0;
        }
        return get_le(in, bytes);
    }
    }
}

static uint64_t decode_all(uint64_t hash)
{
    reader in = {buffer, buffer + buffer_len, 1};
    uint64_t records = get_compact(&in);
    for (uint64_t i = 0; i < records && in.ok; i++) {
        uint8_t tag = get(&in);
        switch (tag) {
        case 0:
            hash = bench_mix(hash, get_compact(&in));
            break;
        case 1: {
            uint64_t len = get_compact(&in);
            if (len > (uint64_t)(in.end - in.at)) {
                return 0;
            }
            uint64_t sum = len;
            for (uint64_t j = 0; j < len; j++) {
                sum = sum * 31 + in.at[j];
            }
            in.at += len;
            hash = bench_mix(hash, sum);
            break;
        }
        case 2: {
            uint64_t count = get_compact(&in);
            for (uint64_t j = 0; j < count && in.ok; j++) {
                hash = bench_mix(hash, get_compact(&in));
            }
            break;
        }
        case 3: {
            uint8_t some = get(&in);
            if (some > 1) {
                return 0;
            }
            hash = bench_mix(hash, some ? get_le(&in, 4) + 1 : 0);
            break;
        }
        case 4: {
            uint64_t value = get_le(&in, 8);
            uint8_t flag = get(&in);
            if (flag > 1) {
                return 0;
            }
            hash = bench_mix(hash, value ^ flag);
            break;
        }
        case 5: {
            uint64_t count = get_compact(&in);
            for (uint64_t j = 0; j < count && in.ok; j++) {
                uint64_t len = get_compact(&in);
                if (len > (uint64_t)(in.end - in.at)) {
                    return 0;
                }
                uint64_t sum = len;
                for (uint64_t k = 0; k < len; k++) {
                    sum = (sum << 5) - sum + in.at[k];
                }
                in.at += len;
                hash = bench_mix(hash, sum + j);
            }
            break;
        }
        default:
            return 0;
        }
    }
    return in.ok && in.at == in.end ? hash : 0;
}

PVM_EXPORT(uint64_t, bench_scale_decode, uint64_t, n)
{
    build();
    uint64_t hash = 0;
    for (uint64_t pass = 0; pass < n; pass++) {
        hash = decode_all(hash + pass);
        if (hash == 0) {
            return 0;
        }
    }
    return hash;
}
