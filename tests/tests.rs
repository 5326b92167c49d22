//! The integration tests: every tool run as a process, compared with kmod
//! (the oracle) on a real Debian kernel tree, plus hermetic scenarios.

mod util;

mod autoclean;
mod depmod;
mod help;
mod hostile;
mod hostile_modinfo;
mod insmod;
mod kmod;
mod libkmod;
mod modinfo;
mod modprobe;
mod modprobe_bytes;
mod modprobe_corpus;
mod modprobe_scenarios;
mod modprobe_tree;
mod readme;
mod static_nodes;
mod views;
mod vm_sysroot;

/// Both test binaries list their files (`autotests = false`): a file left
/// out of a list would never run.
#[test]
fn every_test_file_is_declared() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (dir, list) in [("tests", "tests.rs"), ("crates/core/tests", "core.rs")] {
        let dir = root.join(dir);
        let text = std::fs::read_to_string(dir.join(list)).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let is_module = if path.is_dir() {
                path.join("mod.rs").exists()
            } else {
                path.extension().is_some_and(|e| e == "rs") && path.file_name().unwrap() != list
            };
            assert!(
                !is_module || text.contains(&format!("\nmod {name};\n")),
                "{} is not declared in {list}",
                path.display()
            );
        }
    }
}
