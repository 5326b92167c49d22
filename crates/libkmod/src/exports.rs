//! The 75 functions of libkmod.so.2, each under its C name.
//!
//! rustc gives a cdylib a version script of its own that exports every
//! `#[no_mangle]` function unversioned, and the linker lets that script
//! win over ours (libkmod.map). So the public names are not Rust items:
//! each is a two-instruction assembly stub that jumps to the Rust
//! function, which rustc keeps local. Only libkmod.map then names them,
//! and each gets its `name@@LIBKMOD_n` version, as kmod's library does.
//! The `const` line checks every implementation against its C prototype.
//! On other architectures the functions are exported by rustc directly,
//! without symbol versions.

use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};

use crate::config_iter::ConfigIter;
use crate::ctx::Ctx;
use crate::list::KmodList;
use crate::module::Module;
use crate::{config_iter, ctx, dump, elfinfo, filter, kstate, list, lookup, module, probe, props};

type RunInstall = unsafe extern "C" fn(*mut Module, *const c_char, *mut c_void) -> c_int;
type PrintAction = unsafe extern "C" fn(*mut Module, bool, *const c_char);

#[cfg(target_arch = "x86_64")]
macro_rules! stub {
    ($name:ident, $imp:path) => {
        std::arch::global_asm!(
            ".text",
            concat!(".globl ", stringify!($name)),
            concat!(".type ", stringify!($name), ",@function"),
            ".p2align 4",
            concat!(stringify!($name), ":"),
            "jmp {f}@PLT",
            concat!(".size ", stringify!($name), ", . - ", stringify!($name)),
            f = sym $imp,
        );
    };
}

#[cfg(target_arch = "aarch64")]
macro_rules! stub {
    ($name:ident, $imp:path) => {
        std::arch::global_asm!(
            ".text",
            concat!(".globl ", stringify!($name)),
            concat!(".type ", stringify!($name), ",%function"),
            ".p2align 2",
            concat!(stringify!($name), ":"),
            "b {f}",
            concat!(".size ", stringify!($name), ", . - ", stringify!($name)),
            f = sym $imp,
        );
    };
}

macro_rules! exports {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $imp:path; )*) => {
        $(
            const _: unsafe extern "C" fn($($ty),*) $(-> $ret)? = $imp;
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            stub!($name, $imp);
            #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
            #[no_mangle]
            pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: the same contract as the implementation.
                unsafe { $imp($($arg),*) }
            }
        )*
    };
}

exports! {
    fn kmod_new(dirname: *const c_char, config_paths: *const *const c_char) -> *mut Ctx = ctx::kmod_new;
    fn kmod_ref(ctx: *mut Ctx) -> *mut Ctx = ctx::kmod_ref;
    fn kmod_unref(ctx: *mut Ctx) -> *mut Ctx = ctx::kmod_unref;
    fn kmod_set_log_priority(ctx: *mut Ctx, priority: c_int) = ctx::kmod_set_log_priority;
    fn kmod_get_log_priority(ctx: *const Ctx) -> c_int = ctx::kmod_get_log_priority;
    fn kmod_set_log_fn(ctx: *mut Ctx, log_fn: *const c_void, data: *const c_void) = ctx::kmod_set_log_fn;
    fn kmod_set_userdata(ctx: *mut Ctx, userdata: *const c_void) = ctx::kmod_set_userdata;
    fn kmod_get_userdata(ctx: *const Ctx) -> *mut c_void = ctx::kmod_get_userdata;
    fn kmod_get_dirname(ctx: *const Ctx) -> *const c_char = ctx::kmod_get_dirname;
    fn kmod_load_resources(ctx: *mut Ctx) -> c_int = ctx::kmod_load_resources;
    fn kmod_unload_resources(ctx: *mut Ctx) = ctx::kmod_unload_resources;
    fn kmod_validate_resources(ctx: *mut Ctx) -> c_int = ctx::kmod_validate_resources;
    fn kmod_dump_index(ctx: *mut Ctx, kind: u32, fd: c_int) -> c_int = dump::kmod_dump_index;

    fn kmod_list_next(list: *const KmodList, curr: *const KmodList) -> *mut KmodList = list::kmod_list_next;
    fn kmod_list_prev(list: *const KmodList, curr: *const KmodList) -> *mut KmodList = list::kmod_list_prev;
    fn kmod_list_last(list: *const KmodList) -> *mut KmodList = list::kmod_list_last;

    fn kmod_config_get_blacklists(ctx: *const Ctx) -> *mut ConfigIter = config_iter::kmod_config_get_blacklists;
    fn kmod_config_get_install_commands(ctx: *const Ctx) -> *mut ConfigIter = config_iter::kmod_config_get_install_commands;
    fn kmod_config_get_remove_commands(ctx: *const Ctx) -> *mut ConfigIter = config_iter::kmod_config_get_remove_commands;
    fn kmod_config_get_aliases(ctx: *const Ctx) -> *mut ConfigIter = config_iter::kmod_config_get_aliases;
    fn kmod_config_get_options(ctx: *const Ctx) -> *mut ConfigIter = config_iter::kmod_config_get_options;
    fn kmod_config_get_softdeps(ctx: *const Ctx) -> *mut ConfigIter = config_iter::kmod_config_get_softdeps;
    fn kmod_config_get_weakdeps(ctx: *const Ctx) -> *mut ConfigIter = config_iter::kmod_config_get_weakdeps;
    fn kmod_config_iter_get_key(iter: *const ConfigIter) -> *const c_char = config_iter::kmod_config_iter_get_key;
    fn kmod_config_iter_get_value(iter: *const ConfigIter) -> *const c_char = config_iter::kmod_config_iter_get_value;
    fn kmod_config_iter_next(iter: *mut ConfigIter) -> bool = config_iter::kmod_config_iter_next;
    fn kmod_config_iter_free_iter(iter: *mut ConfigIter) = config_iter::kmod_config_iter_free_iter;

    fn kmod_module_new_from_name(ctx: *mut Ctx, name: *const c_char, out: *mut *mut Module) -> c_int = module::kmod_module_new_from_name;
    fn kmod_module_new_from_path(ctx: *mut Ctx, path: *const c_char, out: *mut *mut Module) -> c_int = module::kmod_module_new_from_path;
    fn kmod_module_new_from_lookup(ctx: *mut Ctx, alias: *const c_char, out: *mut *mut KmodList) -> c_int = lookup::kmod_module_new_from_lookup;
    fn kmod_module_new_from_loaded(ctx: *mut Ctx, out: *mut *mut KmodList) -> c_int = lookup::kmod_module_new_from_loaded;
    fn kmod_module_ref(m: *mut Module) -> *mut Module = module::kmod_module_ref;
    fn kmod_module_unref(m: *mut Module) -> *mut Module = module::kmod_module_unref;
    fn kmod_module_unref_list(list: *mut KmodList) -> c_int = module::kmod_module_unref_list;
    fn kmod_module_get_module(entry: *const KmodList) -> *mut Module = module::kmod_module_get_module;

    fn kmod_module_get_name(m: *const Module) -> *const c_char = props::kmod_module_get_name;
    fn kmod_module_get_path(m: *const Module) -> *const c_char = props::kmod_module_get_path;
    fn kmod_module_get_options(m: *const Module) -> *const c_char = props::kmod_module_get_options;
    fn kmod_module_get_install_commands(m: *const Module) -> *const c_char = props::kmod_module_get_install_commands;
    fn kmod_module_get_remove_commands(m: *const Module) -> *const c_char = props::kmod_module_get_remove_commands;
    fn kmod_module_get_dependencies(m: *const Module) -> *mut KmodList = props::kmod_module_get_dependencies;
    fn kmod_module_get_softdeps(m: *const Module, pre: *mut *mut KmodList, post: *mut *mut KmodList) -> c_int = props::kmod_module_get_softdeps;
    fn kmod_module_get_weakdeps(m: *const Module, weak: *mut *mut KmodList) -> c_int = props::kmod_module_get_weakdeps;
    fn kmod_module_apply_filter(ctx: *const Ctx, filter: u32, input: *const KmodList, out: *mut *mut KmodList) -> c_int = filter::kmod_module_apply_filter;
    fn kmod_module_get_filtered_blacklist(ctx: *const Ctx, input: *const KmodList, out: *mut *mut KmodList) -> c_int = filter::kmod_module_get_filtered_blacklist;

    fn kmod_module_initstate_str(state: u32) -> *const c_char = kstate::kmod_module_initstate_str;
    fn kmod_module_get_initstate(m: *const Module) -> c_int = kstate::kmod_module_get_initstate;
    fn kmod_module_get_refcnt(m: *const Module) -> c_int = kstate::kmod_module_get_refcnt;
    fn kmod_module_get_size(m: *const Module) -> c_long = kstate::kmod_module_get_size;
    fn kmod_module_get_holders(m: *const Module) -> *mut KmodList = kstate::kmod_module_get_holders;
    fn kmod_module_get_sections(m: *const Module) -> *mut KmodList = kstate::kmod_module_get_sections;
    fn kmod_module_section_get_name(entry: *const KmodList) -> *const c_char = kstate::kmod_module_section_get_name;
    fn kmod_module_section_get_address(entry: *const KmodList) -> c_ulong = kstate::kmod_module_section_get_address;
    fn kmod_module_section_free_list(list: *mut KmodList) = kstate::kmod_module_section_free_list;

    fn kmod_module_get_info(m: *const Module, out: *mut *mut KmodList) -> c_int = elfinfo::kmod_module_get_info;
    fn kmod_module_info_get_key(entry: *const KmodList) -> *const c_char = elfinfo::kmod_module_info_get_key;
    fn kmod_module_info_get_value(entry: *const KmodList) -> *const c_char = elfinfo::kmod_module_info_get_value;
    fn kmod_module_info_free_list(list: *mut KmodList) = elfinfo::kmod_module_info_free_list;
    fn kmod_module_get_versions(m: *const Module, out: *mut *mut KmodList) -> c_int = elfinfo::kmod_module_get_versions;
    fn kmod_module_version_get_symbol(entry: *const KmodList) -> *const c_char = elfinfo::kmod_module_version_get_symbol;
    fn kmod_module_version_get_crc(entry: *const KmodList) -> u64 = elfinfo::kmod_module_version_get_crc;
    fn kmod_module_versions_free_list(list: *mut KmodList) = elfinfo::kmod_module_versions_free_list;
    fn kmod_module_get_symbols(m: *const Module, out: *mut *mut KmodList) -> c_int = elfinfo::kmod_module_get_symbols;
    fn kmod_module_symbol_get_symbol(entry: *const KmodList) -> *const c_char = elfinfo::kmod_module_symbol_get_symbol;
    fn kmod_module_symbol_get_crc(entry: *const KmodList) -> u64 = elfinfo::kmod_module_symbol_get_crc;
    fn kmod_module_symbols_free_list(list: *mut KmodList) = elfinfo::kmod_module_symbols_free_list;
    fn kmod_module_get_dependency_symbols(m: *const Module, out: *mut *mut KmodList) -> c_int = elfinfo::kmod_module_get_dependency_symbols;
    fn kmod_module_dependency_symbol_get_symbol(entry: *const KmodList) -> *const c_char = elfinfo::kmod_module_dependency_symbol_get_symbol;
    fn kmod_module_dependency_symbol_get_crc(entry: *const KmodList) -> u64 = elfinfo::kmod_module_dependency_symbol_get_crc;
    fn kmod_module_dependency_symbol_get_bind(entry: *const KmodList) -> c_int = elfinfo::kmod_module_dependency_symbol_get_bind;
    fn kmod_module_dependency_symbols_free_list(list: *mut KmodList) = elfinfo::kmod_module_dependency_symbols_free_list;

    fn kmod_module_insert_module(m: *mut Module, flags: u32, options: *const c_char) -> c_int = probe::kmod_module_insert_module;
    fn kmod_module_remove_module(m: *mut Module, flags: u32) -> c_int = probe::kmod_module_remove_module;
    fn kmod_module_probe_insert_module(m: *mut Module, flags: u32, extra: *const c_char, run_install: Option<RunInstall>, data: *const c_void, print_action: Option<PrintAction>) -> c_int = probe::kmod_module_probe_insert_module;
}

// kmod_module_new_from_name_lookup is LIBKMOD_30's, but Debian 12's kmod
// 30 exported it in LIBKMOD_5 (upstream moved it later), so programs built
// on Debian 12 may ask for either: both versions are defined, LIBKMOD_30
// the default.
const _: unsafe extern "C" fn(*mut Ctx, *const c_char, *mut *mut Module) -> c_int =
    lookup::kmod_module_new_from_name_lookup;

#[cfg(target_arch = "x86_64")]
macro_rules! versioned_stub {
    ($local:literal, $versioned:literal, $imp:path) => {
        std::arch::global_asm!(
            ".text",
            concat!(".globl ", $local),
            concat!(".type ", $local, ",@function"),
            concat!(".symver ", $local, ", ", $versioned),
            ".p2align 4",
            concat!($local, ":"),
            "jmp {f}@PLT",
            concat!(".size ", $local, ", . - ", $local),
            f = sym $imp,
        );
    };
}

#[cfg(target_arch = "aarch64")]
macro_rules! versioned_stub {
    ($local:literal, $versioned:literal, $imp:path) => {
        std::arch::global_asm!(
            ".text",
            concat!(".globl ", $local),
            concat!(".type ", $local, ",%function"),
            concat!(".symver ", $local, ", ", $versioned),
            ".p2align 2",
            concat!($local, ":"),
            "b {f}",
            concat!(".size ", $local, ", . - ", $local),
            f = sym $imp,
        );
    };
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
versioned_stub!(
    "kmod_name_lookup_v30",
    "kmod_module_new_from_name_lookup@@LIBKMOD_30",
    lookup::kmod_module_new_from_name_lookup
);
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
versioned_stub!(
    "kmod_name_lookup_v5",
    "kmod_module_new_from_name_lookup@LIBKMOD_5",
    lookup::kmod_module_new_from_name_lookup
);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[no_mangle]
pub unsafe extern "C" fn kmod_module_new_from_name_lookup(
    ctx: *mut Ctx,
    name: *const c_char,
    out: *mut *mut Module,
) -> c_int {
    // SAFETY: the same contract as the implementation.
    unsafe { lookup::kmod_module_new_from_name_lookup(ctx, name, out) }
}
