//! The `pvm` command line: output on real blobs, and clear errors (never a panic) on bad input.

mod common;

use common::pvm;
use pvm_testkit::testdata;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn info_lists_the_token_contracts_imports_and_exports() {
    let output = pvm(&["info", testdata("contracts/Token.polkavm").to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("PolkaVM program blob, version 0"), "{stdout}");
    assert!(stdout.contains("instruction set:  revive_v1"), "{stdout}");
    assert!(stdout.contains("imports (11):"), "{stdout}");
    for import in ["call_data_copy", "deposit_event", "hash_keccak_256", "seal_return", "value_transferred"] {
        assert!(stdout.contains(import), "{import} missing from {stdout}");
    }
    assert!(stdout.contains("exports (2):"), "{stdout}");
    assert!(stdout.contains("deploy") && stdout.contains("call"));
    assert!(stdout.contains("stack         0xfffd8000..0xfffe0000"), "{stdout}");
}

#[test]
fn disasm_marks_blocks_and_jump_targets() {
    let output = pvm(&["disasm", testdata("contracts/Flipper.polkavm").to_str().unwrap()]);
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with(".isa revive_v1\n.jump_table @"), "{stdout}");
    assert!(stdout.contains("; export deploy"));
    assert!(stdout.contains("jump table address 2"));
    assert!(stdout.contains("ecalli "));
    assert!(stdout.lines().any(|line| line.trim_start().starts_with("0: ")), "one line per instruction with its pc");
}

#[test]
fn run_reports_status_a0_and_gas() {
    let output = pvm(&["run", testdata("contracts/Flipper.polkavm").to_str().unwrap(), "--export", "deploy"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "a guest that stops on a host call is not a success");
    assert!(stdout.contains("status: host call"), "{stdout}");
    assert!(stdout.contains("gas used: "), "{stdout}");
}

#[test]
fn conformance_ends_with_the_summary_line() {
    let output = pvm(&["conformance", testdata("pvm-test-vectors/programs").to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("307 passed, 0 failed"));
}

#[test]
fn bad_input_is_an_error_message_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("pvm-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.polkavm");
    let mut bytes = std::fs::read(testdata("contracts/Flipper.polkavm")).unwrap();
    bytes[4] = 9;
    std::fs::write(&bad, &bytes).unwrap();

    let flipper = testdata("contracts/Flipper.polkavm");
    let flipper = flipper.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["info", bad.to_str().unwrap()], "unsupported blob version 9"),
        (vec!["info", "/nonexistent/file"], "cannot read /nonexistent/file"),
        (vec!["run", flipper, "--export", "nope"], "no export named `nope`"),
        (vec!["run", flipper], "--export NAME"),
        (vec!["conformance", "/nonexistent"], "cannot read /nonexistent"),
        (vec!["disasm", bad.to_str().unwrap(), "--isa", "mips"], "unknown instruction set `mips`"),
    ];
    for (args, expected) in cases {
        let output = pvm(&args);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn run_takes_a_page_size() {
    use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
    // A 4 KiB stack, and a load 8 KiB below its top: past it with 4 KiB pages, inside it with
    // 16 KiB ones.
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    code.push(Instruction::load_imm(Reg::A0, 0xfffe_0000 - 0x2000));
    code.push(Instruction::load_indirect_u32(Reg::A0, Reg::A0, 0));
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    let memory = MemoryConfig { stack_size: 0x1000, ..Default::default() };
    let blob = ProgramBlobBuilder::new(code.build().unwrap().code).memory(memory).export("main", 0).build().unwrap();
    let path = common::scratch("run-page-size").join("stack.polkavm");
    std::fs::write(&path, blob.to_bytes()).unwrap();
    let path = path.to_str().unwrap();

    let mut backends = vec!["interpreter"];
    if pvm_testkit::require_compiler() {
        backends.push("compiler");
    }
    for backend in backends {
        let output = pvm(&["run", path, "--export", "main", "--backend", backend]);
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(2), "{stdout}");
        assert!(stdout.contains("page fault at 0xfffde000"), "{stdout}");
        assert!(stdout.contains("stack overflow") && stdout.contains("--page-size"), "{stdout}");

        let output = pvm(&["run", path, "--export", "main", "--backend", backend, "--page-size", "16K"]);
        assert!(output.status.success(), "{}", text(&output.stdout));
        assert!(text(&output.stdout).contains("status: halt"));
    }
    let output = pvm(&["run", path, "--export", "main", "--page-size", "128K"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("page size is too big"), "{}", text(&output.stderr));
}
