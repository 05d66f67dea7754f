//! Every committed blob loads with our own parser.

mod common;

use pvm_executor::program::ProgramBlob;

#[test]
fn every_committed_blob_parses() {
    let blobs = common::committed_blobs();
    // 10 benchmark programs, the host_call fixture, Flipper and Token.
    assert!(blobs.len() >= 13, "found only {blobs:?}");
    for path in blobs {
        let bytes = std::fs::read(&path).unwrap();
        let blob = ProgramBlob::parse(&bytes).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert!(!blob.exports().is_empty(), "{}: no exports", path.display());
        assert_eq!(blob.to_bytes(), bytes, "{}: not canonical", path.display());
    }
}

#[test]
fn benchmark_programs_export_what_the_manifest_says() {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pvm_testkit::testdata("bench-programs/programs.json")).unwrap())
            .unwrap();
    let programs = manifest["programs"].as_object().unwrap();
    assert!(programs.len() >= 10);
    for (name, program) in programs {
        let file = program["file"].as_str().unwrap();
        let export = program["export"].as_str().unwrap();
        let dir = pvm_testkit::testdata("bench-programs");
        for ext in ["c", "polkavm", "wasm"] {
            assert!(dir.join(format!("{file}.{ext}")).exists(), "{name}: {file}.{ext} missing");
        }
        let bytes = std::fs::read(dir.join(format!("{file}.polkavm"))).unwrap();
        let blob = ProgramBlob::parse(&bytes).unwrap();
        assert!(blob.export(export).is_some(), "{name}: no export {export}");
        for size in ["quick", "full"] {
            let checksum = program[size]["checksum"].as_str().unwrap();
            assert_eq!(checksum.len(), 16, "{name} {size}: checksum is 16 hex digits");
            assert!(u64::from_str_radix(checksum, 16).is_ok());
            assert!(program[size]["arg"].as_u64().is_some());
        }
    }
}
