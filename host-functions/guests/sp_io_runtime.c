/*
 * A Substrate-runtime-shaped PVM guest that calls real sp-io host functions.
 *
 * Every export is a runtime method with the convention of Substrate runtimes on PolkaVM:
 * `uint64_t method(uint32_t input_ptr, uint32_t input_len)`, returning the output as a packed
 * fat pointer (pointer in the low 32 bits, length in the high 32 bits). Host functions take
 * byte buffers as fat pointers too, one register each, and return host-allocated buffers that
 * the guest frees with `ext_allocator_free_version_1`.
 *
 * Built with the team's guest toolchain; host-functions/guests/build.sh rebuilds
 * sp_io_runtime.polkavm from this file. host-functions/tests/c_guest.rs runs it under
 * sp_io::TestExternalities and checks every result against sp-io called natively.
 */
#include "pvm_guest.h"

PVM_IMPORT(void, ext_storage_set_version_1, uint64_t, key, uint64_t, value);
PVM_IMPORT(uint64_t, ext_storage_get_version_1, uint64_t, key);
PVM_IMPORT(void, ext_storage_clear_version_1, uint64_t, key);
PVM_IMPORT(uint32_t, ext_storage_exists_version_1, uint64_t, key);
PVM_IMPORT(uint32_t, ext_hashing_blake2_256_version_1, uint64_t, data);
PVM_IMPORT(uint32_t, ext_hashing_twox_128_version_1, uint64_t, data);
PVM_IMPORT(uint32_t, ext_hashing_keccak_256_version_1, uint64_t, data);
PVM_IMPORT(void, ext_logging_log_version_1, uint32_t, level, uint64_t, target, uint64_t, message);
PVM_IMPORT(uint32_t, ext_allocator_malloc_version_1, uint32_t, size);
PVM_IMPORT(void, ext_allocator_free_version_1, uint32_t, ptr);

PVM_MIN_STACK_SIZE(32768);

/* sp-core's RuntimeInterfaceLogLevel. */
enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

static uint64_t fat(const void *ptr, uint32_t len)
{
    return (uint64_t)(uint32_t)(uintptr_t)ptr | ((uint64_t)len << 32);
}

static uint8_t *fat_ptr(uint64_t fat_pointer)
{
    return (uint8_t *)(uintptr_t)(uint32_t)fat_pointer;
}

static uint32_t fat_len(uint64_t fat_pointer)
{
    return (uint32_t)(fat_pointer >> 32);
}

static uint8_t *malloc_(uint32_t size)
{
    return (uint8_t *)(uintptr_t)ext_allocator_malloc_version_1(size);
}

static void free_(const void *ptr)
{
    ext_allocator_free_version_1((uint32_t)(uintptr_t)ptr);
}

static uint32_t read_u32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8) | ((uint32_t)bytes[2] << 16) | ((uint32_t)bytes[3] << 24);
}

static uint64_t empty_output(void)
{
    /* Any readable address with length zero. */
    static uint8_t nothing;
    return fat(&nothing, 0);
}

/* Writes a status log line: "<what>: <n> bytes". */
static void log_bytes(const char *what, uint32_t n)
{
    static const char target[] = "c-guest";
    char line[64];
    uint32_t len = 0;
    while (what[len] != 0 && len < 40) {
        line[len] = what[len];
        len++;
    }
    line[len++] = ':';
    line[len++] = ' ';
    char digits[10];
    uint32_t count = 0;
    do {
        digits[count++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    while (count != 0) {
        line[len++] = digits[--count];
    }
    memcpy(line + len, " bytes", 6);
    len += 6;
    ext_logging_log_version_1(LOG_INFO, fat(target, sizeof(target) - 1), fat(line, len));
}

/* put: input = key_len (u32 LE) ++ key ++ value; sets storage[key] = value. Output: empty. */
PVM_EXPORT(uint64_t, put, uint32_t, ptr, uint32_t, len)
{
    const uint8_t *input = (const uint8_t *)(uintptr_t)ptr;
    if (len < 4) {
        __builtin_trap();
    }
    uint32_t key_len = read_u32(input);
    if (key_len > len - 4) {
        __builtin_trap();
    }
    ext_storage_set_version_1(fat(input + 4, key_len), fat(input + 4 + key_len, len - 4 - key_len));
    log_bytes("stored", len - 4 - key_len);
    return empty_output();
}

/* get: input = key. Output: storage_get's SCALE-encoded Option<Vec<u8>>, as the host wrote it. */
PVM_EXPORT(uint64_t, get, uint32_t, ptr, uint32_t, len)
{
    return ext_storage_get_version_1(fat((const void *)(uintptr_t)ptr, len));
}

/* exists: input = key. Output: one byte, 1 if the key has a value. */
PVM_EXPORT(uint64_t, exists, uint32_t, ptr, uint32_t, len)
{
    uint8_t *out = malloc_(1);
    out[0] = (uint8_t)ext_storage_exists_version_1(fat((const void *)(uintptr_t)ptr, len));
    return fat(out, 1);
}

/* clear: input = key. Output: one byte, whether the key still exists afterwards (0). */
PVM_EXPORT(uint64_t, clear, uint32_t, ptr, uint32_t, len)
{
    uint64_t key = fat((const void *)(uintptr_t)ptr, len);
    ext_storage_clear_version_1(key);
    uint8_t *out = malloc_(1);
    out[0] = (uint8_t)ext_storage_exists_version_1(key);
    return fat(out, 1);
}

/* hashes: input = data. Output: blake2_256 ++ twox_128 ++ keccak_256 (80 bytes). The host's
 * hash buffers are freed after copying. */
PVM_EXPORT(uint64_t, hashes, uint32_t, ptr, uint32_t, len)
{
    uint64_t data = fat((const void *)(uintptr_t)ptr, len);
    uint8_t *out = malloc_(80);
    uint8_t *blake2 = (uint8_t *)(uintptr_t)ext_hashing_blake2_256_version_1(data);
    uint8_t *twox = (uint8_t *)(uintptr_t)ext_hashing_twox_128_version_1(data);
    uint8_t *keccak = (uint8_t *)(uintptr_t)ext_hashing_keccak_256_version_1(data);
    memcpy(out, blake2, 32);
    memcpy(out + 32, twox, 16);
    memcpy(out + 48, keccak, 32);
    free_(blake2);
    free_(twox);
    free_(keccak);
    return fat(out, 80);
}

/* remember: stores blake2_256(input) under the key twox_128(input), reads it back with
 * storage_get, checks in the guest that the SCALE encoding is Some(32 bytes) equal to the
 * hash, and frees everything the host allocated. Output: the 16-byte key. */
PVM_EXPORT(uint64_t, remember, uint32_t, ptr, uint32_t, len)
{
    uint64_t data = fat((const void *)(uintptr_t)ptr, len);
    uint8_t *hash = (uint8_t *)(uintptr_t)ext_hashing_blake2_256_version_1(data);
    uint8_t *key = (uint8_t *)(uintptr_t)ext_hashing_twox_128_version_1(data);
    ext_storage_set_version_1(fat(key, 16), fat(hash, 32));

    uint64_t stored = ext_storage_get_version_1(fat(key, 16));
    const uint8_t *encoded = fat_ptr(stored);
    /* Some(vec) = 0x01, compact length 32 = 0x80, then the 32 bytes. */
    if (fat_len(stored) != 34 || encoded[0] != 1 || encoded[1] != (32 << 2) || memcmp(encoded + 2, hash, 32) != 0) {
        __builtin_trap();
    }
    free_(encoded);
    free_(hash);

    uint8_t *out = malloc_(16);
    memcpy(out, key, 16);
    free_(key);
    log_bytes("remembered", 32);
    return fat(out, 16);
}

/* churn: runs `rounds` (u32 LE input) malloc/free pairs of varying sizes and hash calls
 * whose buffers are freed. Output: empty. With a freeing allocator the heap stays small. */
PVM_EXPORT(uint64_t, churn, uint32_t, ptr, uint32_t, len)
{
    if (len != 4) {
        __builtin_trap();
    }
    uint32_t rounds = read_u32((const uint8_t *)(uintptr_t)ptr);
    for (uint32_t i = 0; i < rounds; i++) {
        uint32_t size = 16 + (i % 7) * 1000;
        uint8_t *block = malloc_(size);
        memset(block, (int)i, size);
        uint8_t *hash = (uint8_t *)(uintptr_t)ext_hashing_blake2_256_version_1(fat(block, size));
        free_(hash);
        free_(block);
    }
    return empty_output();
}
