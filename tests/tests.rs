//! The integration tests: every tool run as a process, compared with kmod
//! (the oracle) on a real Debian kernel tree, plus hermetic scenarios.

mod util;

mod depmod;
mod hostile;
mod hostile_modinfo;
mod kmod;
mod modinfo;
mod modprobe;
mod modprobe_corpus;
mod modprobe_scenarios;
mod modprobe_tree;
mod static_nodes;
mod views;
mod vm_sysroot;
