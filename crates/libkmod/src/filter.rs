//! `kmod_module_apply_filter`: a module list without blacklisted or
//! built-in modules.

use std::ffi::c_int;

use crate::ctx::{ctx_ref, Ctx};
use crate::ffi::guard;
use crate::list::KmodList;
use crate::module::{module_list, modules_of};

const FILTER_BLACKLIST: u32 = 0x1;
const FILTER_BUILTIN: u32 = 0x2;

pub(crate) unsafe extern "C" fn kmod_module_apply_filter(
    ctx: *const Ctx,
    filter_type: u32,
    input: *const KmodList,
    output: *mut *mut KmodList,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(c) = (unsafe { ctx_ref(ctx) }) else {
            return -libc::ENOENT;
        };
        if output.is_null() {
            return -libc::ENOENT;
        }
        // SAFETY: output points to the caller's list pointer.
        unsafe { *output = std::ptr::null_mut() };
        let config = c.config();
        let mut kept = Vec::new();
        // SAFETY: NULL or a live module list.
        for m in unsafe { modules_of(input) } {
            // SAFETY: the list's modules are live.
            let module = unsafe { &*m };
            if filter_type & FILTER_BLACKLIST != 0 && config.is_blacklisted(module.name_bytes()) {
                continue;
            }
            if filter_type & FILTER_BUILTIN != 0 && module.is_builtin() {
                continue;
            }
            module.add_ref();
            kept.push(m);
        }
        // SAFETY: as above.
        unsafe { *output = module_list(kept) };
        0
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_filtered_blacklist(
    ctx: *const Ctx,
    input: *const KmodList,
    output: *mut *mut KmodList,
) -> c_int {
    // SAFETY: forwarded as given.
    unsafe { kmod_module_apply_filter(ctx, FILTER_BLACKLIST, input, output) }
}
