//! Replays every fuzz corpus (`fuzz/corpus/<target>/`) through its target, so that an input that once crashed a
//! parser (it is kept in its target's corpus) stays fixed, and so that the targets keep building and running in
//! `cargo test` without a fuzzer.

use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_binary() {
    let bins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    for (name, _) in ferrosync_fuzz::TARGETS {
        let n = std::fs::read_dir(corpus_dir(name)).map(|d| d.count()).unwrap_or(0);
        assert!(n > 0, "fuzz/corpus/{name}/ is missing or empty: seed it (see FUZZING.md)");
        assert!(bins.join(format!("{name}.rs")).is_file(), "fuzz/fuzz_targets/{name}.rs is missing");
    }
}

#[test]
fn every_corpus_input_runs_through_its_target_without_a_panic() {
    let mut total = 0;
    for (name, target) in ferrosync_fuzz::TARGETS {
        let Ok(dir) = std::fs::read_dir(corpus_dir(name)) else { continue };
        let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "fuzz target {name} panics on {}", f.display());
            total += 1;
        }
    }
    assert!(total > 0, "no corpus input was replayed");
}
