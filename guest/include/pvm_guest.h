/*
 * pvm_guest.h: writing PVM guest programs in C.
 *
 * One source file builds three ways (see guest/README.md and guest/build.sh):
 *
 *   PVM     clang --target=riscv64-unknown-none-elf ... then `pvm link` (polkavm-linker 0.37)
 *   wasm32  clang --target=wasm32 ... then wasm-ld
 *   native  any C99 compiler for the host (a baseline for benchmarks)
 *
 * The header picks the target from the compiler's predefined macros (__riscv, __wasm__,
 * anything else is native) and provides:
 *
 *   PVM_EXPORT(ret, name, T1, a1, T2, a2, ...) { body }
 *       Defines an exported entry point `ret name(T1 a1, T2 a2, ...)`. Up to six
 *       parameters, each at most 64 bits (one register); `ret` is `void` or a type of at
 *       most 64 bits (returned in A0).
 *
 *   PVM_IMPORT(ret, name, T1, a1, T2, a2, ...);
 *       Declares a host function `ret name(T1 a1, ...)` that the program calls by name.
 *       Same limits as exports. The linker numbers imports itself (sorted by name).
 *
 *   PVM_MIN_STACK_SIZE(bytes);
 *       Asks the linker for at least this much stack (PVM only; polkavm-linker's default is
 *       8 KiB). For wasm32 the stack size is a wasm-ld option; natively it is the OS's.
 *
 * How the PVM side works (the format polkavm-linker 0.37 reads from the ELF file):
 *
 *   * Every import and export has a metadata record in section `.polkavm_metadata`, packed,
 *     little endian:  u8 version (1 for exports, 2 for imports), u32 flags (0),
 *     u32 symbol length, pointer to the symbol bytes (relocated), u8 input register count,
 *     u8 output register count, and for version 2: u8 has_index, u32 index.
 *   * Section `.polkavm_exports` holds one record per export: u8 version (1), a pointer-sized
 *     slot relocated to the metadata, a pointer-sized slot relocated to the function.
 *   * A call to an import is the RISC-V custom-0 instruction word 0x0000000b (R-type, funct3 0,
 *     all registers zero) immediately followed by a pointer-sized slot relocated to the
 *     import's metadata; arguments are in a0..a5, results come back in a0 (and a1), and the
 *     host may clobber t0-t2 and a0-a5.
 *   * Section `.polkavm_min_stack_size` holds u32 values; the linker takes the largest.
 *
 * The relocations are what the linker reads (it ignores the stored values), which is why
 * guests are linked with `ld.lld --emit-relocs`.
 */
#ifndef PVM_GUEST_H
#define PVM_GUEST_H

#include <stddef.h>
#include <stdint.h>

#if defined(__riscv)
#define PVM_TARGET_PVM 1
#if __riscv_xlen != 64
#error "pvm_guest.h: build for riscv64 (rv64emac_zbb, lp64e)"
#endif
#elif defined(__wasm__)
#define PVM_TARGET_WASM 1
#else
#define PVM_TARGET_NATIVE 1
#endif

/* ---------------------------------------------------------------------------------------- */
/* Preprocessor helpers (internal).                                                          */
/* ---------------------------------------------------------------------------------------- */

#define PVM__CAT(a, b) PVM__CAT_(a, b)
#define PVM__CAT_(a, b) a##b
#define PVM__STR(x) PVM__STR_(x)
#define PVM__STR_(x) #x

/* The number of (type, name) pairs in the arguments, 0..6 (uses the GNU `, ##__VA_ARGS__`
 * extension that gcc and clang support, so that an empty list counts as zero). */
#define PVM__NARGS(...) PVM__NARGS_(_, ##__VA_ARGS__, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0)
#define PVM__NARGS_(_, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) n

/* `T1, a1, T2, a2` -> `T1 a1, T2 a2`; with no pairs -> `void`. */
#define PVM__PARAMS(...) PVM__CAT(PVM__PARAMS_, PVM__NARGS(__VA_ARGS__))(__VA_ARGS__)
#define PVM__PARAMS_0() void
#define PVM__PARAMS_1(T1, a1) T1 a1
#define PVM__PARAMS_2(T1, a1, T2, a2) T1 a1, T2 a2
#define PVM__PARAMS_3(T1, a1, T2, a2, T3, a3) T1 a1, T2 a2, T3 a3
#define PVM__PARAMS_4(T1, a1, T2, a2, T3, a3, T4, a4) T1 a1, T2 a2, T3 a3, T4 a4
#define PVM__PARAMS_5(T1, a1, T2, a2, T3, a3, T4, a4, T5, a5) T1 a1, T2 a2, T3 a3, T4 a4, T5 a5
#define PVM__PARAMS_6(T1, a1, T2, a2, T3, a3, T4, a4, T5, a5, T6, a6) \
    T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6

/* Whether a type is `void`: 1 for `void`, 0 for anything else that starts with an identifier.
 * (So a return type must not *start* with `void` unless it is `void`: return pointers as
 * `uintptr_t` or through a typedef.) */
#define PVM__IS_VOID(T) PVM__SECOND(PVM__CAT(PVM__VOID_PROBE_, T), 0, ~)
#define PVM__VOID_PROBE_void ~, 1
#define PVM__SECOND(...) PVM__SECOND_(__VA_ARGS__)
#define PVM__SECOND_(a, b, ...) b

/* ---------------------------------------------------------------------------------------- */
/* PVM (riscv64 ELF for polkavm-linker)                                                     */
/* ---------------------------------------------------------------------------------------- */
#if defined(PVM_TARGET_PVM)

/* Layout of a metadata record (see the comment at the top). */
struct pvm__extern_metadata {
    uint8_t version;
    uint32_t flags;
    uint32_t symbol_length;
    const char *symbol;
    uint8_t input_regs;
    uint8_t output_regs;
    uint8_t has_index;
    uint32_t index;
} __attribute__((packed));

/* The export's records. Version-1 records end after `output_regs`; the two trailing fields
 * are still emitted (as zero) and ignored by the linker, which reads records through the
 * pointers, never by walking the section. */
#define PVM__EXPORT_RECORDS(name, nargs, out_regs)                                          \
    static const char pvm__export_symbol_##name[sizeof(#name) - 1]                          \
        __attribute__((used, section(".polkavm_metadata"))) = #name;                        \
    static const struct pvm__extern_metadata pvm__export_metadata_##name                   \
        __attribute__((used, section(".polkavm_metadata"), aligned(1))) = {                 \
            1, 0, sizeof(#name) - 1, pvm__export_symbol_##name, (nargs), (out_regs), 0, 0}; \
    __asm__(".pushsection .polkavm_exports,\"a\",@progbits\n"                              \
            ".byte 1\n"                                                                     \
            ".8byte pvm__export_metadata_" #name "\n"                                       \
            ".8byte " #name "\n"                                                            \
            ".popsection\n");

#define PVM_EXPORT(ret, name, ...)                                                       \
    ret name(PVM__PARAMS(__VA_ARGS__)) __attribute__((used));                            \
    PVM__EXPORT_RECORDS(name, PVM__NARGS(__VA_ARGS__), (PVM__IS_VOID(ret) ? 0 : 1))      \
    ret name(PVM__PARAMS(__VA_ARGS__))

/* The call sequence: the custom-0 marker word, then the metadata pointer. Inputs are bound to
 * a0..a5 (unused ones are zero), a0/a1 come back, and everything the host may clobber is
 * declared as such. */
#define PVM__ECALLI(name, x0, x1, x2, x3, x4, x5)                                       \
    ({                                                                                   \
        register uint64_t r_a0 __asm__("a0") = (uint64_t)(x0);                           \
        register uint64_t r_a1 __asm__("a1") = (uint64_t)(x1);                           \
        register uint64_t r_a2 __asm__("a2") = (uint64_t)(x2);                           \
        register uint64_t r_a3 __asm__("a3") = (uint64_t)(x3);                           \
        register uint64_t r_a4 __asm__("a4") = (uint64_t)(x4);                           \
        register uint64_t r_a5 __asm__("a5") = (uint64_t)(x5);                           \
        __asm__ volatile(".insn r 0xb, 0, 0, zero, zero, zero\n"                         \
                         ".8byte pvm__import_metadata_" #name "\n"                       \
                         : "+r"(r_a0), "+r"(r_a1), "+r"(r_a2), "+r"(r_a3), "+r"(r_a4),   \
                           "+r"(r_a5)                                                    \
                         :                                                               \
                         : "t0", "t1", "t2", "memory");                                  \
        r_a0;                                                                            \
    })

#define PVM__ARGS6(...) PVM__CAT(PVM__ARGS6_, PVM__NARGS(__VA_ARGS__))(__VA_ARGS__)
#define PVM__ARGS6_0() 0, 0, 0, 0, 0, 0
#define PVM__ARGS6_1(T1, a1) a1, 0, 0, 0, 0, 0
#define PVM__ARGS6_2(T1, a1, T2, a2) a1, a2, 0, 0, 0, 0
#define PVM__ARGS6_3(T1, a1, T2, a2, T3, a3) a1, a2, a3, 0, 0, 0
#define PVM__ARGS6_4(T1, a1, T2, a2, T3, a3, T4, a4) a1, a2, a3, a4, 0, 0
#define PVM__ARGS6_5(T1, a1, T2, a2, T3, a3, T4, a4, T5, a5) a1, a2, a3, a4, a5, 0
#define PVM__ARGS6_6(T1, a1, T2, a2, T3, a3, T4, a4, T5, a5, T6, a6) a1, a2, a3, a4, a5, a6

#define PVM__ECALLI_(name, ...) PVM__ECALLI(name, __VA_ARGS__)
#define PVM__RETURN_0(ret, value) return (ret)(value)
#define PVM__RETURN_1(ret, value) (void)(value)

#define PVM_IMPORT(ret, name, ...)                                                           \
    static const char pvm__import_symbol_##name[sizeof(#name) - 1]                           \
        __attribute__((used, section(".polkavm_metadata"))) = #name;                         \
    static const struct pvm__extern_metadata pvm__import_metadata_##name                    \
        __attribute__((used, section(".polkavm_metadata"), aligned(1))) = {                  \
            2, 0, sizeof(#name) - 1, pvm__import_symbol_##name, PVM__NARGS(__VA_ARGS__),     \
            (PVM__IS_VOID(ret) ? 0 : 1), 0, 0};                                              \
    static inline ret name(PVM__PARAMS(__VA_ARGS__))                                         \
    {                                                                                        \
        uint64_t pvm__result = PVM__ECALLI_(name, PVM__ARGS6(__VA_ARGS__));                  \
        PVM__CAT(PVM__RETURN_, PVM__IS_VOID(ret))(ret, pvm__result);                         \
    }                                                                                        \
    typedef int pvm__import_declared_##name

#define PVM_MIN_STACK_SIZE(bytes)                                                             \
    __asm__(".pushsection .polkavm_min_stack_size,\"\",@progbits\n"                           \
            ".4byte " PVM__STR(bytes) "\n"                                                    \
            ".popsection\n")

/* ---------------------------------------------------------------------------------------- */
/* wasm32                                                                                    */
/* ---------------------------------------------------------------------------------------- */
#elif defined(PVM_TARGET_WASM)

#define PVM_EXPORT(ret, name, ...) \
    __attribute__((export_name(#name))) ret name(PVM__PARAMS(__VA_ARGS__))

#define PVM_IMPORT(ret, name, ...)                                                  \
    __attribute__((import_module("env"), import_name(#name))) ret name(             \
        PVM__PARAMS(__VA_ARGS__))

#define PVM_MIN_STACK_SIZE(bytes) typedef int pvm__min_stack_size_is_a_linker_option

/* ---------------------------------------------------------------------------------------- */
/* native                                                                                    */
/* ---------------------------------------------------------------------------------------- */
#else

#define PVM_EXPORT(ret, name, ...) \
    __attribute__((visibility("default"))) ret name(PVM__PARAMS(__VA_ARGS__))

#define PVM_IMPORT(ret, name, ...) extern ret name(PVM__PARAMS(__VA_ARGS__))

#define PVM_MIN_STACK_SIZE(bytes) typedef int pvm__min_stack_size_is_for_pvm_only

#endif

/* ---------------------------------------------------------------------------------------- */
/* The freestanding C library subset (guest/libc/string.c; the system's libc natively).     */
/* ---------------------------------------------------------------------------------------- */
#if defined(PVM_TARGET_NATIVE)
#include <string.h>
#else
void *memset(void *dst, int value, size_t count);
void *memcpy(void *restrict dst, const void *restrict src, size_t count);
void *memmove(void *dst, const void *src, size_t count);
int memcmp(const void *a, const void *b, size_t count);
size_t strlen(const char *s);
#endif

#endif /* PVM_GUEST_H */
