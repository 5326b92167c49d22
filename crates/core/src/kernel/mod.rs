//! The kernel's module system calls, used the way kmod 34 uses them, and
//! what surrounds them:
//!
//! * [`insert_module`] (`syscalls.rs`): `finit_module` on the file itself
//!   when it is uncompressed or compressed the way the kernel can undo
//!   (`MODULE_INIT_COMPRESSED_FILE`); only when that answers `ENOSYS` (no
//!   such call, or a compression the kernel lacks) the image is read and
//!   decompressed here and handed to `init_module`.
//!   [`remove_module`]: `delete_module`, never waiting (`O_NONBLOCK`),
//!   forced with `O_TRUNC`.
//! * [`Force`] (`force.rs`): `--force` becomes `MODULE_INIT_IGNORE_*` flags
//!   for `finit_module`, or, for `init_module`, `__versions` and the
//!   vermagic stripped from a private copy of the image
//!   ([`strip_for_force`]).
//! * [`KernelLog`] (`kmsg.rs`): the kernel's own log lines (`/dev/kmsg`)
//!   written while a call ran, to show the user why the kernel refused.
//! * [`join_params`] (`params.rs`): module parameters from the command
//!   line, joined the way kmod's tools join them.
//! * [`permission`] (`permission.rs`): whether this process may load
//!   modules at all, and the sentences that explain a refusal.

mod force;
mod kmsg;
mod params;
mod permission;
mod syscalls;

pub use force::{strip_for_force, Force};
pub use kmsg::{KernelLog, LogRecord, DEV_KMSG};
pub use params::join_params;
pub use permission::{permission, permission_sentence, Permission, NO_MODULE_SUPPORT};
pub use syscalls::{
    insert_module, remove_module, InsertError, Syscall, MODULE_INIT_COMPRESSED_FILE,
};
