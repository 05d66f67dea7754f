/*
 * A minimal guest that shows the header's macros: one import, two exports, a global.
 * guest/build.sh builds it; tools/tests/fixtures/host_call.{elf,polkavm} are its outputs.
 */
#include "pvm_guest.h"

/* The host provides `host_add(a, b)`; the guest calls it like any function. */
PVM_IMPORT(uint64_t, host_add, uint64_t, a, uint64_t, b);
/* A host function without a result. */
PVM_IMPORT(void, host_log, uint64_t, value);

PVM_MIN_STACK_SIZE(16384);

static uint64_t calls;

/* `add_twice(x, y)` = host_add(host_add(x, y), y), and logs how often it was called. */
PVM_EXPORT(uint64_t, add_twice, uint64_t, x, uint64_t, y)
{
    calls++;
    host_log(calls);
    return host_add(host_add(x, y), y);
}

/* How often `add_twice` ran. */
PVM_EXPORT(uint64_t, call_count)
{
    return calls;
}
