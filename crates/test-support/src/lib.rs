//! What the root package's and the core's test suites share (a dev-only
//! crate: nothing here is part of the tools or the libraries).
//!
//! * [`kmod`]: kmod's own tools, the oracle every differential test runs,
//!   and the one difference between the oracle's messages and kmod 34.2's
//!   that comparisons remove.
//! * [`rng`]: seeded random cases, the same on every run.
//! * [`clock`]: waiting until files are old enough.
//! * [`fake_module`]: small module files made in memory, with the
//!   symbols, CRCs and `.modinfo` a test needs.
//! * [`fake_root`]: a system root under a temporary directory (`/proc`,
//!   `/sys/module`, `/lib/modules`) for `MODUTILS_SYSROOT`.

pub mod clock;
pub mod fake_module;
pub mod fake_root;
pub mod kmod;
pub mod rng;
