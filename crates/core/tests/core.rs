//! The core crate's integration tests, as one binary (one link, one run):
//! a module per area, with the shared helpers beside them. Every file in
//! this directory must be declared here (checked by the root package's
//! `every_test_file_is_declared`).

mod common;
mod config_support;
mod depmod_common;

mod config_depmod;
mod config_kcmdline;
mod config_modprobe;
mod context_resources;
mod depmod_cache;
mod depmod_cache_format;
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
mod kver_glibc;
mod module_robustness;
mod procfs_modules;
mod signature_cases;
mod signature_oracle;
mod sysfs_attributes;
