//! Turning memory faults in JIT code into guest exits.
//!
//! One process-wide handler for `SIGSEGV` and `SIGBUS`, installed the first time a compiled
//! instance runs. While JIT code runs, a thread-local points at the running instance's
//! [`VmCtx`]. The handler checks that this thread is running guest code and that the faulting
//! instruction lies inside that module's code; if so it records the faulting address of the
//! instruction in the context and makes the signal return into the module's fault exit (the
//! guest registers are still in their host registers, which the kernel restores on return).
//! Any other fault is passed on to the handler that was installed before ours, or, if that was
//! the default action, re-raised with the default action so the process dies as it would have.

use super::VmCtx;
use std::cell::Cell;
use std::sync::OnceLock;

thread_local! {
    /// The context of the instance whose JIT code this thread is running, or null.
    static RUNNING: Cell<*mut VmCtx> = const { Cell::new(core::ptr::null_mut()) };
}

struct Previous {
    segv: libc::sigaction,
    bus: libc::sigaction,
}

// SAFETY: plain data copied from the kernel, only read after initialisation.
unsafe impl Send for Previous {}
// SAFETY: as above.
unsafe impl Sync for Previous {}

static PREVIOUS: OnceLock<Result<Previous, &'static str>> = OnceLock::new();

/// Installs the handler once per process.
pub(crate) fn install() -> Result<(), &'static str> {
    match PREVIOUS.get_or_init(install_now) {
        Ok(_) => Ok(()),
        Err(error) => Err(error),
    }
}

fn install_now() -> Result<Previous, &'static str> {
    // SAFETY: `sigaction` with a zeroed, then filled-in struct; `handler` has the signature
    // `SA_SIGINFO` requires. The previous actions are stored before any signal can reach
    // `handler` through `PREVIOUS`, because `OnceLock` publishes them only after this returns;
    // until then the handler treats `PREVIOUS` as absent and restores the default action.
    unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        libc::sigemptyset(&mut action.sa_mask);
        let mut segv: libc::sigaction = core::mem::zeroed();
        let mut bus: libc::sigaction = core::mem::zeroed();
        if libc::sigaction(libc::SIGSEGV, &action, &mut segv) != 0 {
            return Err("cannot install the SIGSEGV handler");
        }
        if libc::sigaction(libc::SIGBUS, &action, &mut bus) != 0 {
            libc::sigaction(libc::SIGSEGV, &segv, core::ptr::null_mut());
            return Err("cannot install the SIGBUS handler");
        }
        Ok(Previous { segv, bus })
    }
}

/// Marks `ctx` as the context of the guest code this thread is about to run.
#[inline]
pub(crate) fn set_running(ctx: *mut VmCtx) {
    RUNNING.with(|running| running.set(ctx));
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let ctx = RUNNING.with(Cell::get);
    if !ctx.is_null() && !context.is_null() {
        // SAFETY: the kernel passes a valid `ucontext_t` for `SA_SIGINFO` handlers; `ctx` is
        // the live context of the instance running on this very thread (set right before
        // entering JIT code and cleared right after), so it is valid for the handler's duration.
        unsafe {
            let ucontext = &mut *context.cast::<libc::ucontext_t>();
            let rip = ucontext.uc_mcontext.gregs[libc::REG_RIP as usize] as u64;
            let ctx = &mut *ctx;
            if rip >= ctx.code_start && rip < ctx.code_end {
                ctx.fault_rip = rip;
                ucontext.uc_mcontext.gregs[libc::REG_RIP as usize] = ctx.fault_exit as i64;
                return;
            }
        }
    }
    pass_on(signal, info, context);
}

/// Hands a fault that is not ours to whoever handled it before.
fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = match PREVIOUS.get() {
        Some(Ok(previous)) => Some(if signal == libc::SIGBUS { &previous.bus } else { &previous.segv }),
        _ => None,
    };
    // SAFETY: calls the previously installed handler with the arguments the kernel gave us,
    // in the form (with or without `SA_SIGINFO`) it was installed with; or resets the signal
    // to its default action so that returning re-executes the faulting instruction and the
    // process terminates exactly as it would have without us.
    unsafe {
        match previous {
            Some(previous) if previous.sa_sigaction != libc::SIG_DFL && previous.sa_sigaction != libc::SIG_IGN => {
                if previous.sa_flags & libc::SA_SIGINFO != 0 {
                    let function: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        core::mem::transmute(previous.sa_sigaction);
                    function(signal, info, context);
                } else {
                    let function: extern "C" fn(libc::c_int) = core::mem::transmute(previous.sa_sigaction);
                    function(signal);
                }
            }
            _ => {
                let mut action: libc::sigaction = core::mem::zeroed();
                action.sa_sigaction = libc::SIG_DFL;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, core::ptr::null_mut());
            }
        }
    }
}
