//! `libkmod.so.2`: kmod's C library interface over modutils-core, so
//! that systemd-udevd, dracut, lspci and the other programs linked
//! against kmod's library run on modutils unchanged.
//!
//! This crate is the boundary only: C types and pointers, reference
//! counts, list ownership, error codes and logging. What a lookup finds,
//! what a probe loads and how modules reach the kernel is modutils-core's
//! (the same code the tools run), through the core's `System` so that
//! `MODUTILS_SYSROOT` and the fake kernel work here as for the tools.
//!
//! Rules kept at every entry point (see docs/libkmod.md):
//! * no panic crosses into C: each call runs under [`ffi::guard`], which
//!   turns one into the error the function documents;
//! * names and paths are bytes (`CStr`), never assumed UTF-8;
//! * a context and everything made from it belong to one thread at a
//!   time: no locks, no threads (udevd forks workers that inherit the
//!   context), interior mutability through `Cell`/`RefCell` only.

mod config_iter;
mod ctx;
mod dump;
mod elfinfo;
mod exports;
mod ffi;
mod filter;
mod kstate;
mod list;
mod log;
mod lookup;
mod module;
mod probe;
mod props;
