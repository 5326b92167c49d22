//! modutils-core: everything the module tools know, with the tools themselves
//! as thin front-ends.
//!
//! Programs that want what udev and systemd get from libkmod start with
//! [`Modules`] ([`modules`]): a context for a root and kernel version that
//! looks up names and modaliases, tells a module's state, loads with the
//! blacklist applied, removes, lists the loaded modules with their holders
//! and notices new indexes. [`sandbox`] makes a fake system to test such
//! programs against. `examples/coldplug.rs` loads the drivers of every
//! device under `/sys/devices`.
//!
//! * [`root`] maps target-system paths onto the host (`MODUTILS_SYSROOT`).
//! * [`module_file`] opens a module (raw or compressed); [`elf`] reads the
//!   sections the tools need; [`signature`] reads the appended signature;
//!   [`modinfo`] assembles what `modinfo` prints.
//! * [`index`] reads and writes kmod's binary `.bin` indexes; [`fnmatch`] is
//!   the glibc-compatible pattern matcher those indexes rely on.
//! * [`context`] resolves names and aliases to modules; [`probe`] is
//!   modprobe's engine (load lists, loading, removal) over a [`probe::System`].
//! * [`kernel`] talks to the kernel (`finit_module`, `init_module`,
//!   `delete_module`, `/dev/kmsg`); [`procfs`] and [`sysfs`] read what it
//!   says about loaded modules; [`symcheck`] checks a module's symbols
//!   against the running kernel, to explain why the kernel refused it.
//! * [`diagnostics`] is the vocabulary of messages: levels, kmod's
//!   diagnostics and errno texts.
//! * [`autoclean`] records the modules the kernel had modprobe load and
//!   sweeps away those that stay unused (`rmmod -a`).

#![warn(missing_docs)]

pub mod autoclean;
pub mod cnum;
pub mod config;
pub mod context;
mod decompress;
pub mod depmod;
pub mod devname;
pub mod diagnostics;
pub(crate) mod dirs;
pub mod elf;
pub use modutils_fnmatch as fnmatch;
pub use modutils_index as index;
pub mod kernel;
pub mod loaded;
pub mod modinfo;
pub mod module_file;
pub mod modules;
pub mod name;
pub mod probe;
pub mod procfs;
pub mod root;
pub mod sandbox;
pub use modutils_signature as signature;
pub mod symcheck;
pub mod sysfs;

pub use modules::Modules;
pub use root::Root;
