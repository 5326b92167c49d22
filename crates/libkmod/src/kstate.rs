//! What the running kernel says about a module: init state, size, use
//! count, holders and section addresses (from /sys/module and
//! /proc/modules under the context's root, through the core's `System`
//! where the fake kernel must answer too).

use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};
use std::ptr;

use modutils_core::name::modname_normalize;
use modutils_core::probe::InitState;
use modutils_core::{procfs, sysfs};

use crate::elfinfo::{record, record_name};
use crate::ffi::guard;
use crate::list::{self, KmodList};
use crate::log::{log, LOG_ERR};
use crate::module::{get_or_create, module_list, module_ref, Module};
use modutils_core::diagnostics::{errno_of, strerror};

const BUILTIN: c_int = 0;
const LIVE: c_int = 1;
const COMING: c_int = 2;
const GOING: c_int = 3;

impl Module {
    /// 0..=3 (builtin, live, coming, going) or -errno.
    pub(crate) fn initstate(&self) -> c_int {
        if self.is_builtin() {
            return BUILTIN;
        }
        let ctx = self.ctx();
        let state = ctx.system.borrow_mut().initstate(self.name_bytes());
        match state {
            Ok(InitState::Builtin) => BUILTIN,
            Ok(InitState::Live) => LIVE,
            Ok(InitState::Coming) => COMING,
            Ok(InitState::Going) => GOING,
            Err(e) => {
                if let Some(msg) = e.log {
                    let msg = String::from_utf8_lossy(&msg);
                    log!(ctx, LOG_ERR, "kmod_module_get_initstate", "{msg}\n");
                }
                -e.errno
            }
        }
    }
}

pub(crate) unsafe extern "C" fn kmod_module_get_initstate(m: *const Module) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        unsafe { module_ref(m) }.map_or(-libc::ENOENT, Module::initstate)
    })
}

pub(crate) unsafe extern "C" fn kmod_module_initstate_str(state: u32) -> *const c_char {
    match state {
        0 => c"builtin".as_ptr(),
        1 => c"live".as_ptr(),
        2 => c"coming".as_ptr(),
        3 => c"going".as_ptr(),
        _ => ptr::null(),
    }
}

pub(crate) unsafe extern "C" fn kmod_module_get_size(m: *const Module) -> c_long {
    guard(-libc::ENOMEM as c_long, || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return -libc::ENOENT as c_long;
        };
        let ctx = module.ctx();
        let name = module.name_lossy();
        let dir = ctx.root.host(sysfs::module_path(&name, None));
        if let Err(e) = std::fs::read_dir(&dir) {
            return crate::ffi::neg_errno(&e) as c_long;
        }
        match sysfs::coresize(&ctx.root, &name) {
            Ok(size) => return size as c_long,
            Err(sysfs::Error::Invalid { path, .. }) => {
                log!(
                    ctx,
                    LOG_ERR,
                    "kmod_module_get_size",
                    "failed to read coresize from {}\n",
                    path.display()
                );
                return 0;
            }
            Err(_) => {}
        }
        match procfs::loaded_modules(&ctx.root) {
            Ok(list) => list
                .iter()
                .find(|l| l.name == name)
                .map_or(-libc::ENOENT as c_long, |l| l.size as c_long),
            Err(e) => {
                log!(
                    ctx,
                    LOG_ERR,
                    "kmod_module_get_size",
                    "could not open /proc/modules: {}\n",
                    strerror(e.errno())
                );
                -e.errno() as c_long
            }
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_refcnt(m: *const Module) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return -libc::ENOENT;
        };
        let ctx = module.ctx();
        let count = ctx.system.borrow_mut().refcnt(module.name_bytes());
        match count {
            Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
            Err(e) => {
                if let Some(msg) = e.log {
                    let msg = String::from_utf8_lossy(&msg);
                    log!(ctx, LOG_ERR, "kmod_module_get_refcnt", "{msg}\n");
                }
                -e.errno
            }
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_holders(m: *const Module) -> *mut KmodList {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return ptr::null_mut();
        };
        let ctx = module.ctx();
        let holders = ctx.system.borrow_mut().holders(module.name_bytes());
        match holders {
            Ok(names) => module_list(
                names
                    .iter()
                    .map(|n| get_or_create(ctx, &modname_normalize(n), None))
                    .collect(),
            ),
            Err(e) => {
                if let Some(msg) = e.log {
                    let msg = String::from_utf8_lossy(&msg);
                    log!(ctx, LOG_ERR, "kmod_module_get_holders", "{msg}\n");
                }
                ptr::null_mut()
            }
        }
    })
}

/// Section records: `{unsigned long address; char name[];}`.
pub(crate) unsafe extern "C" fn kmod_module_get_sections(m: *const Module) -> *mut KmodList {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return ptr::null_mut();
        };
        let ctx = module.ctx();
        match sysfs::sections(&ctx.root, &module.name_lossy()) {
            Ok(sections) => list::from_vec(
                sections
                    .iter()
                    .map(|(name, addr)| record(&(*addr as c_ulong).to_ne_bytes(), name))
                    .collect(),
            ),
            Err(sysfs::Error::Io { path, source }) => {
                let reason = strerror(errno_of(&source));
                let path = path.display();
                log!(
                    ctx,
                    LOG_ERR,
                    "kmod_module_get_sections",
                    "could not open '{path}': {reason}\n"
                );
                ptr::null_mut()
            }
            Err(e) => {
                log!(ctx, LOG_ERR, "kmod_module_get_sections", "{e}\n");
                ptr::null_mut()
            }
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_module_section_get_name(
    entry: *const KmodList,
) -> *const c_char {
    // SAFETY: NULL or a node of a section list.
    unsafe { record_name(list::data(entry), std::mem::size_of::<c_ulong>()) }
}

pub(crate) unsafe extern "C" fn kmod_module_section_get_address(entry: *const KmodList) -> c_ulong {
    // SAFETY: NULL or a node of a section list.
    let data = unsafe { list::data(entry) };
    if data.is_null() {
        return c_ulong::MAX;
    }
    // SAFETY: a section record starts with its address.
    unsafe { ptr::read_unaligned(data.cast::<c_ulong>()) }
}

pub(crate) unsafe extern "C" fn kmod_module_section_free_list(l: *mut KmodList) {
    guard((), || {
        // SAFETY: NULL or a live section list, freed once.
        unsafe { list::free(l, |d: *mut c_void| libc::free(d)) }
    })
}
