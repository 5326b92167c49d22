//! libkmod's C entry points on arbitrary input: a real module directory
//! (indexes depmod wrote for the fixture modules, fuzz/data/libkmod/) in
//! which one index file, or the module file mod_c.ko, is replaced by the
//! fuzzer's bytes; a modprobe.d file of fuzzer text; arbitrary names (with
//! `/`, brackets, non-UTF-8 bytes) given to every lookup; then every query
//! on what they find, dry-run probes under any flags, index dumps and the
//! config iterators. Nothing may crash, leak (LeakSanitizer) or read out
//! of bounds (AddressSanitizer), and the context must go with its last
//! reference.
//!
//! Input: a selector byte (low 3 bits: which index the blob replaces, 5-7
//! for the module file; bit 7: load the indexes first; the byte also
//! makes the probe flags), the config text, then `\xff`-separated: the
//! blob and up to 8 names.
#![no_main]

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::ptr::null_mut;

use libfuzzer_sys::fuzz_target;
use modutils_fuzz::scratch;

// The library (package modutils-libkmod, crate kmod) is linked in as an
// rlib; these are its C entry points.
use kmod as _;

#[repr(C)]
struct Opaque {
    _p: [u8; 0],
}
type Ctx = Opaque;
type Module = Opaque;
type List = Opaque;
type Iter = Opaque;
type PrintAction = Option<unsafe extern "C" fn(*mut Module, bool, *const c_char)>;

extern "C" {
    fn kmod_new(dirname: *const c_char, config: *const *const c_char) -> *mut Ctx;
    fn kmod_unref(ctx: *mut Ctx) -> *mut Ctx;
    fn kmod_set_log_fn(ctx: *mut Ctx, f: *const c_void, data: *const c_void);
    fn kmod_load_resources(ctx: *mut Ctx) -> c_int;
    fn kmod_validate_resources(ctx: *mut Ctx) -> c_int;
    fn kmod_dump_index(ctx: *mut Ctx, ty: c_uint, fd: c_int) -> c_int;
    fn kmod_list_next(list: *const List, curr: *const List) -> *mut List;
    fn kmod_module_new_from_lookup(ctx: *mut Ctx, s: *const c_char, l: *mut *mut List) -> c_int;
    fn kmod_module_new_from_name(ctx: *mut Ctx, s: *const c_char, m: *mut *mut Module) -> c_int;
    fn kmod_module_new_from_path(ctx: *mut Ctx, s: *const c_char, m: *mut *mut Module) -> c_int;
    fn kmod_module_new_from_name_lookup(
        ctx: *mut Ctx,
        s: *const c_char,
        m: *mut *mut Module,
    ) -> c_int;
    fn kmod_module_get_module(l: *const List) -> *mut Module;
    fn kmod_module_unref(m: *mut Module) -> *mut Module;
    fn kmod_module_unref_list(l: *mut List) -> c_int;
    fn kmod_module_get_path(m: *const Module) -> *const c_char;
    fn kmod_module_get_options(m: *const Module) -> *const c_char;
    fn kmod_module_get_install_commands(m: *const Module) -> *const c_char;
    fn kmod_module_get_initstate(m: *const Module) -> c_int;
    fn kmod_module_get_dependencies(m: *const Module) -> *mut List;
    fn kmod_module_get_softdeps(
        m: *const Module,
        pre: *mut *mut List,
        post: *mut *mut List,
    ) -> c_int;
    fn kmod_module_get_weakdeps(m: *const Module, weak: *mut *mut List) -> c_int;
    fn kmod_module_get_info(m: *const Module, l: *mut *mut List) -> c_int;
    fn kmod_module_info_free_list(l: *mut List);
    fn kmod_module_get_versions(m: *const Module, l: *mut *mut List) -> c_int;
    fn kmod_module_versions_free_list(l: *mut List);
    fn kmod_module_get_symbols(m: *const Module, l: *mut *mut List) -> c_int;
    fn kmod_module_symbols_free_list(l: *mut List);
    fn kmod_module_get_dependency_symbols(m: *const Module, l: *mut *mut List) -> c_int;
    fn kmod_module_dependency_symbols_free_list(l: *mut List);
    fn kmod_module_apply_filter(
        ctx: *const Ctx,
        f: c_uint,
        i: *const List,
        o: *mut *mut List,
    ) -> c_int;
    fn kmod_module_probe_insert_module(
        m: *mut Module,
        flags: c_uint,
        extra: *const c_char,
        run_install: *const c_void,
        data: *const c_void,
        print: PrintAction,
    ) -> c_int;
    fn kmod_config_get_aliases(ctx: *const Ctx) -> *mut Iter;
    fn kmod_config_get_softdeps(ctx: *const Ctx) -> *mut Iter;
    fn kmod_config_get_weakdeps(ctx: *const Ctx) -> *mut Iter;
    fn kmod_config_iter_next(i: *mut Iter) -> bool;
    fn kmod_config_iter_get_key(i: *const Iter) -> *const c_char;
    fn kmod_config_iter_get_value(i: *const Iter) -> *const c_char;
    fn kmod_config_iter_free_iter(i: *mut Iter);
}

const INDEXES: [&str; 5] = [
    "modules.dep.bin",
    "modules.alias.bin",
    "modules.symbols.bin",
    "modules.builtin.alias.bin",
    "modules.builtin.bin",
];
const DRY_RUN: c_uint = 0x10;

unsafe extern "C" fn print_action(m: *mut Module, _install: bool, options: *const c_char) {
    assert!(
        !m.is_null() && !options.is_null(),
        "print_action without module or options"
    );
}

/// Every query on one module.
unsafe fn exercise(ctx: *mut Ctx, m: *mut Module, flags: c_uint) {
    kmod_module_get_path(m);
    kmod_module_get_options(m);
    kmod_module_get_install_commands(m);
    kmod_module_get_initstate(m);
    let deps = kmod_module_get_dependencies(m);
    let mut filtered = null_mut();
    kmod_module_apply_filter(ctx, 3, deps, &mut filtered);
    kmod_module_unref_list(filtered);
    kmod_module_unref_list(deps);
    let (mut pre, mut post, mut weak) = (null_mut(), null_mut(), null_mut());
    kmod_module_get_softdeps(m, &mut pre, &mut post);
    kmod_module_get_weakdeps(m, &mut weak);
    for l in [pre, post, weak] {
        kmod_module_unref_list(l);
    }
    let mut l = null_mut();
    kmod_module_get_info(m, &mut l);
    kmod_module_info_free_list(l);
    let mut l = null_mut();
    kmod_module_get_versions(m, &mut l);
    kmod_module_versions_free_list(l);
    let mut l = null_mut();
    kmod_module_get_symbols(m, &mut l);
    kmod_module_symbols_free_list(l);
    let mut l = null_mut();
    kmod_module_get_dependency_symbols(m, &mut l);
    kmod_module_dependency_symbols_free_list(l);
    // Any flags, never a real insertion: DRY_RUN always set, run_install
    // never called without it.
    let extra = c"x=1";
    kmod_module_probe_insert_module(
        m,
        flags | DRY_RUN,
        extra.as_ptr(),
        std::ptr::null(),
        std::ptr::null(),
        Some(print_action),
    );
}

unsafe fn iterate(it: *mut Iter) {
    while kmod_config_iter_next(it) {
        kmod_config_iter_get_key(it);
        kmod_config_iter_get_value(it);
    }
    kmod_config_iter_free_iter(it);
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|&b| b == 0xff);
    let config = parts.next().unwrap_or_default();
    let blob = parts.next().unwrap_or_default();
    let names: Vec<CString> = parts
        .take(8)
        .map(|n| CString::new(n.iter().copied().filter(|&b| b != 0).collect::<Vec<u8>>()).unwrap())
        .collect();
    let dir = scratch().join("lib/modules/fuzz");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("extra")).unwrap();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for f in INDEXES.iter().chain(&["modules.softdep"]) {
        std::fs::copy(data.join("libkmod").join(f), dir.join(f)).unwrap();
    }
    std::fs::copy(data.join("mod_c.ko"), dir.join("extra/mod_c.ko")).unwrap();
    match usize::from(sel & 7) {
        i @ 0..=4 => std::fs::write(dir.join(INDEXES[i]), blob).unwrap(),
        _ => std::fs::write(dir.join("extra/mod_c.ko"), blob).unwrap(),
    }
    let conf = scratch().join("fuzz.conf");
    std::fs::write(&conf, config).unwrap();
    let dirname = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    let conf = CString::new(conf.as_os_str().as_encoded_bytes()).unwrap();
    let paths = [conf.as_ptr(), std::ptr::null()];
    let flags = c_uint::from(sel) << 16 | c_uint::from(sel);
    unsafe {
        let ctx = kmod_new(dirname.as_ptr(), paths.as_ptr());
        if ctx.is_null() {
            return;
        }
        kmod_set_log_fn(ctx, std::ptr::null(), std::ptr::null());
        if sel & 0x80 != 0 {
            kmod_load_resources(ctx);
        }
        for name in &names {
            let mut list = null_mut();
            kmod_module_new_from_lookup(ctx, name.as_ptr(), &mut list);
            let mut cur = list;
            while !cur.is_null() {
                let m = kmod_module_get_module(cur);
                exercise(ctx, m, flags);
                kmod_module_unref(m);
                cur = kmod_list_next(list, cur);
            }
            kmod_module_unref_list(list);
            for new in [
                kmod_module_new_from_name,
                kmod_module_new_from_path,
                kmod_module_new_from_name_lookup,
            ] {
                let mut m = null_mut();
                if new(ctx, name.as_ptr(), &mut m) == 0 && !m.is_null() {
                    exercise(ctx, m, flags);
                    kmod_module_unref(m);
                }
            }
        }
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        for ty in [0, 1, 2, 3, 4, 5, c_uint::MAX] {
            kmod_dump_index(ctx, ty, devnull);
        }
        libc::close(devnull);
        iterate(kmod_config_get_aliases(ctx));
        iterate(kmod_config_get_softdeps(ctx));
        iterate(kmod_config_get_weakdeps(ctx));
        kmod_validate_resources(ctx);
        assert!(
            kmod_unref(ctx).is_null(),
            "the context outlived its last reference"
        );
    }
});
