//! Doom as a real-program conformance test: PolkaVM's Doom port (`testdata/doom/doom_64.elf.zst`,
//! about 156,000 instructions no one here wrote) plays Freedoom (`testdata/doom/freedoom1.wad.zst`)
//! with the scripted input of `testdata/doom/demo.keys` from the title screen into the first
//! level, on our interpreter and our JIT. The ELF is linked as `pvm link` links it by default
//! (an 8 KiB stack) and runs with 16 KiB pages, as PolkaVM's Doom example runs it. Every tic's
//! frame hash, frame count and gas must agree between the two backends, and the frames at the
//! checkpoints below must be the ones PolkaVM 0.37 drew.

mod common;

use common::{pvm, scratch, stderr};
use pvm_executor::program::PageSize;
use pvm_tools::doom::{self, keys, DoomBackend, DoomError, TicRecord, DOOM_PAGE_SIZE};
use pvm_tools::linking::{link, LinkOptions};
use std::sync::{Arc, OnceLock};

/// The JIT plays this many tics (past the menus, into the level, across the hall, through the
/// door it opens, firing).
const JIT_TICS: u32 = 520;
/// The interpreter, about ten times slower, plays the first this many (the level starts at
/// about tic 55).
const INTERPRETER_TICS: u32 = 110;

/// `(tic, frames output so far, frame hash)` at every 50th tic, recorded from PolkaVM 0.37's
/// recompiler (16 KiB pages, synchronous gas; the page size changes no frame) with
/// `cargo run -p pvm-tools --features polkavm-reference -- doom --backend polkavm-reference
/// --program testdata/doom/doom.polkavm.zst --wad testdata/doom/freedoom1.wad.zst --keys testdata/doom/demo.keys --tics 520
/// --frames-every 50 --print-hashes` (on `testdata/doom/doom.polkavm.zst`, the ELF linked with a 16 KiB
/// stack; the hash is `pvm_tools::doom::Frame::hash`, FNV-1a over
/// the frame's BGRX bytes). Tic 349 faces the door, 399 stands at it, 449 has gone through it.
const POLKAVM_FRAMES: [(u32, u64, u64); 10] = [
    (49, 51, 0x2b6c79855a6131d1),
    (99, 142, 0xa09d24b2eea70629),
    (149, 192, 0xdea7a631acee3151),
    (199, 242, 0x312375a4d77f5529),
    (249, 292, 0x24c284957acfedc9),
    (299, 342, 0xdff197ed4ac7417d),
    (349, 392, 0x310bf58a55734e31),
    (399, 442, 0x481fab4d61575881),
    (449, 492, 0xbc3bf6dfcf44dd3d),
    (499, 542, 0xd77a0e0bf1b21379),
];

/// Gas used by `ext_initialize` and the 520 tics, the same on PolkaVM 0.37 (synchronous gas
/// metering) as on ours, recorded in the same run.
const POLKAVM_GAS_AFTER_520_TICS: u64 = 7_982_022_234;

struct Inputs {
    elf: Vec<u8>,
    /// The ELF linked as `pvm link` links it by default: an 8 KiB stack.
    blob: Vec<u8>,
    /// The committed blob: the ELF linked with a 16 KiB stack.
    blob_16k_stack: Vec<u8>,
    wad: Arc<[u8]>,
    events: Vec<keys::KeyEvent>,
}

fn inputs() -> &'static Inputs {
    static INPUTS: OnceLock<Inputs> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let dir = pvm_testkit::testdata("doom");
        let elf = doom::decompress_if_zstd(std::fs::read(dir.join("doom_64.elf.zst")).unwrap()).unwrap();
        let (blob, _) = doom::program_blob(elf.clone()).unwrap();
        // Linked once with `pvm link --min-stack-size 16K` and committed.
        let (blob_16k_stack, _) = doom::program_blob(std::fs::read(dir.join("doom.polkavm.zst")).unwrap()).unwrap();
        let wad = doom::decompress_if_zstd(std::fs::read(dir.join("freedoom1.wad.zst")).unwrap()).unwrap().into();
        let events = keys::parse(&std::fs::read_to_string(dir.join("demo.keys")).unwrap()).unwrap();
        Inputs { elf, blob, blob_16k_stack, wad, events }
    })
}

fn play(backend: DoomBackend, blob: &[u8], page_size: PageSize, tics: u32) -> Vec<TicRecord> {
    let inputs = inputs();
    let mut loaded = doom::load(backend, blob, page_size, inputs.wad.clone()).unwrap();
    let (records, _, _) = doom::play(loaded.machine.as_mut(), tics, &inputs.events, |_, _| {}).unwrap();
    assert_eq!(loaded.machine.host().frame.as_ref().map(|frame| (frame.width, frame.height)), Some((640, 400)));
    records
}

#[test]
fn interpreter_jit_and_polkavm_draw_the_same_frames() {
    let blob = &inputs().blob;
    assert_eq!(DOOM_PAGE_SIZE.get(), 16 * 1024);
    let jit = play(DoomBackend::Compiler, blob, DOOM_PAGE_SIZE, JIT_TICS);
    let interpreter = play(DoomBackend::Interpreter, blob, DOOM_PAGE_SIZE, INTERPRETER_TICS);
    for (ours, theirs) in interpreter.iter().zip(&jit) {
        assert_eq!(ours, theirs, "interpreter and JIT differ at tic {} (frame hash, frame count or gas)", ours.tic);
    }
    for (tic, frames, hash) in POLKAVM_FRAMES {
        for (backend, records) in [("JIT", &jit), ("interpreter", &interpreter)] {
            if let Some(record) = records.get(tic as usize) {
                assert_eq!(
                    (record.frames_output, record.frame_hash),
                    (frames, Some(hash)),
                    "tic {tic}: the {backend}'s frame is not PolkaVM's"
                );
            }
        }
    }
    assert_eq!(jit.last().unwrap().gas_used, Some(POLKAVM_GAS_AFTER_520_TICS));
    // The run is not standing still: the checkpoints show different pictures.
    let mut distinct: Vec<u64> = POLKAVM_FRAMES.iter().map(|(_, _, hash)| *hash).collect();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 8, "{distinct:x?}");
}

#[test]
fn a_16_kib_stack_on_4_kib_pages_draws_the_same_frames() {
    // What the checkpoints were recorded with: the page size changes no frame and no gas.
    let records = play(DoomBackend::Compiler, &inputs().blob_16k_stack, PageSize::MIN, 100);
    let on_16_kib_pages = play(DoomBackend::Compiler, &inputs().blob, DOOM_PAGE_SIZE, 100);
    assert_eq!(records, on_16_kib_pages);
    assert_eq!((records[49].frames_output, records[49].frame_hash), (POLKAVM_FRAMES[0].1, Some(POLKAVM_FRAMES[0].2)));
}

#[test]
fn an_8_kib_stack_on_4_kib_pages_overflows_with_an_error_naming_the_stack() {
    let inputs = inputs();
    // polkavm-linker's default minimum stack: Doom's `ext_initialize` needs more than 8 KiB.
    let blob = link(&inputs.elf, &LinkOptions::default()).unwrap();
    assert_eq!(blob, inputs.blob);
    let mut loaded = doom::load(DoomBackend::Compiler, &blob, PageSize::MIN, inputs.wad.clone()).unwrap();
    let error = loaded.machine.initialize().unwrap_err();
    let DoomError::StackOverflow { export, overflow } = &error else { panic!("not a stack overflow: {error}") };
    assert_eq!(*export, "ext_initialize");
    assert_eq!(overflow.stack_size(), 8192);
    let message = error.to_string();
    assert!(message.contains("stack overflow") && message.contains("8 KiB stack"), "{message}");
    assert!(message.contains("--min-stack-size") && message.contains("--page-size"), "{message}");
}

#[test]
fn pvm_doom_writes_frames_a_gif_and_its_speed() {
    let dir = scratch("doom-cli");
    let out = dir.join("frames");
    let root = pvm_testkit::testdata("doom");
    let output = pvm(&[
        "doom",
        "--program",
        root.join("doom_64.elf.zst").to_str().unwrap(),
        "--wad",
        root.join("freedoom1.wad.zst").to_str().unwrap(),
        "--keys",
        root.join("demo.keys").to_str().unwrap(),
        "--tics",
        "10",
        "--frames-every",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--print-hashes",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The ELF as it is: linked with the default 8 KiB stack, run with 16 KiB pages.
    for expected in
        ["linked ", "(16 KiB pages)", "load + compile", "tics/s", "tic 4: frames", "tic 9: frames", "gas used: "]
    {
        assert!(stdout.contains(expected), "no `{expected}` in:\n{stdout}");
    }
    for file in ["frame-00004.png", "frame-00009.png", "doom.gif"] {
        let bytes = std::fs::read(out.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert!(bytes.starts_with(if file.ends_with("png") { b"\x89PNG" } else { b"GIF89a" }), "{file}");
    }

    let output = pvm(&["doom", "--program", "/nonexistent.elf", "--wad", "/nonexistent.wad", "--page-size", "12K"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("page size is not a power of two"), "{}", stderr(&output));
    let output = pvm(&["doom", "--program", "/nonexistent.elf", "--wad", "/nonexistent.wad"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cannot read /nonexistent.wad"), "{}", stderr(&output));
}
