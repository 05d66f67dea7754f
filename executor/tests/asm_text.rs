//! The assembler on malformed text: errors with line numbers, never a panic. Inputs found by
//! the `asm_roundtrip` fuzz target are kept in `fuzz/regressions/asm_roundtrip/`.

use pvm_executor::program::asm::assemble;

#[test]
fn non_ascii_in_hex_data_is_an_error_not_a_panic() {
    // `fuzz/regressions/asm_roundtrip/crash-c095f01e…`: `.ro_data` followed by bytes that are
    // not UTF-8 (read lossily, so U+FFFD, three bytes); slicing the token into byte pairs
    // split the character and panicked.
    for text in [
        ".ro_data 01 02 03I\u{fffd}$I\n",
        ".rw_data 0\u{e9}\n",
        ".optional_section 128 \u{fffd}\u{fffd}\n",
        ".ro_data \u{1f600}\n",
    ] {
        let error = assemble(text).expect_err(text);
        assert!(error.message.starts_with("1: "), "{text:?}: {error}");
        assert!(error.message.contains("is not a sequence of hex bytes"), "{text:?}: {error}");
    }
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/regressions/asm_roundtrip/crash-c095f01e9e9ad0f81fba5b4e2a620a8c46ed9aca"
    ))
    .unwrap();
    // The fuzz target's first byte picks text; the rest is the text, read lossily.
    let text = String::from_utf8_lossy(&bytes[1..]);
    assert!(assemble(&text).is_err());
}
