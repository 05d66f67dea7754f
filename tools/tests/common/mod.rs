//! Helpers shared by the integration tests: paths to committed blobs and running `pvm`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// This crate's own fixtures (`tools/tests/fixtures`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn blobs_in(dir: &Path) -> Vec<PathBuf> {
    let mut blobs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "polkavm"))
        .collect();
    blobs.sort();
    assert!(!blobs.is_empty(), "no .polkavm files in {}", dir.display());
    blobs
}

/// Every committed container blob: the benchmark programs, this crate's fixtures, and the
/// resolc-built contracts (`testdata/bench-programs`, `tools/tests/fixtures`,
/// `testdata/contracts`).
pub fn committed_blobs() -> Vec<PathBuf> {
    let mut blobs = blobs_in(&pvm_testkit::testdata("bench-programs"));
    blobs.extend(blobs_in(&fixtures()));
    blobs.extend(blobs_in(&pvm_testkit::testdata("contracts")));
    blobs
}

/// Runs the `pvm` binary.
pub fn pvm(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pvm")).args(args).output().expect("the pvm binary runs")
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pvm-tools-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
