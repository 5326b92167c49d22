//! The core crate's integration tests, as one binary (one link, one run):
//! a module per area, with the shared helpers beside them. Every file in
//! this directory must be declared here (`every_test_file_is_declared`).

mod common;
mod config_support;
mod depmod_common;

mod config_depmod;
mod config_kcmdline;
mod config_modprobe;
mod depmod_cycles;
mod depmod_options;
mod depmod_reader;
mod depmod_real;
mod depmod_scenarios;
mod elf_damaged;
mod elf_sources;
mod fnmatch_glibc;
mod hostile_config;
mod hostile_indexes;
mod hostile_modules;
mod index_real_tree;
mod kernel_interface;
mod kernel_symcheck;
mod module_robustness;
mod procfs_modules;
mod signature_cases;
mod signature_oracle;
mod sysfs_attributes;

/// With `autotests = false` a file left out of the list above would never
/// run, silently.
#[test]
fn every_test_file_is_declared() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let list = std::fs::read_to_string(here.join("core.rs")).unwrap();
    for entry in std::fs::read_dir(&here).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = if path.is_dir() {
            path.join("mod.rs").exists()
        } else {
            path.extension().is_some_and(|e| e == "rs") && name != "core"
        };
        if is_module {
            assert!(
                list.contains(&format!("\nmod {name};\n")),
                "tests/{name} is not declared in tests/core.rs"
            );
        }
    }
}
