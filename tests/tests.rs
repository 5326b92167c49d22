//! The integration tests: every tool run as a process, compared with kmod
//! (the oracle) on a real Debian kernel tree, plus hermetic scenarios.

mod util;

mod depmod;
mod kmod;
mod modinfo;
mod static_nodes;
mod vm_sysroot;
