//! Making module objects from what a client has: an alias or modalias,
//! a name, or the running kernel's list.

use std::ffi::{c_char, c_int};

use modutils_core::context::Module as Found;
use modutils_core::name::{alias_normalize, modname_normalize};
use modutils_core::procfs;

use crate::ctx::{ctx_ref, Ctx};
use crate::ffi::{arg, guard};
use crate::list::KmodList;
use crate::log::{log, LOG_ERR};
use crate::module::{get_or_create, module_list, Module};
use modutils_core::diagnostics::strerror;

/// The object for a core lookup result, with what the lookup learnt.
/// Only a module found by its own name has its modules.dep line parsed
/// now (libkmod reads the line there; aliases leave it for later).
pub(crate) fn adopt(ctx: &Ctx, found: Found, from_commands: bool) -> *mut Module {
    let m = get_or_create(ctx, &found.name, found.alias.as_deref());
    // SAFETY: just made or found, with our reference.
    let module = unsafe { &*m };
    if found.builtin {
        module.builtin.set(Some(true));
    }
    if found.alias.is_none() {
        module.offer_dep_line(found.path, found.deps);
    }
    if from_commands {
        let config = ctx.config();
        let name = module.name_bytes();
        let index_of = |list: &[modutils_core::config::modprobe::Command]| {
            list.iter().position(|c| c.modname == name)
        };
        if let Some(i) = index_of(&config.installs) {
            module.install.set(Some(ctx.config_strings().install(i)));
            module.from_commands.set(true);
        } else if let Some(i) = index_of(&config.removes) {
            module.remove.set(Some(ctx.config_strings().remove(i)));
            module.from_commands.set(true);
        }
    }
    m
}

/// The lookup of kmod_module_new_from_lookup: `Ok(empty)` when nothing
/// matches, `Err(-EINVAL)` for a name no pattern can match.
pub(crate) fn lookup(ctx: &Ctx, given: &[u8]) -> Result<Vec<*mut Module>, c_int> {
    let normalized = alias_normalize(given).map_err(|_| -libc::EINVAL)?;
    // Indexes and configuration are text; a name that is not cannot match.
    let Ok(text) = String::from_utf8(normalized) else {
        return Ok(Vec::new());
    };
    let found = ctx
        .with_core(|core| core.lookup(&text))
        .map_err(|_| -libc::EINVAL)?;
    // Only the install/remove step gives a module with neither path,
    // alias nor built-in mark (every other source sets one of them).
    let from_commands = matches!(
        found.as_slice(),
        [m] if m.path.is_none() && m.alias.is_none() && !m.builtin
    );
    Ok(found
        .into_iter()
        .map(|f| adopt(ctx, f, from_commands))
        .collect())
}

pub(crate) unsafe extern "C" fn kmod_module_new_from_lookup(
    ctx: *mut Ctx,
    given_alias: *const c_char,
    list: *mut *mut KmodList,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live / a C string.
        let (Some(c), Some(alias)) = (unsafe { ctx_ref(ctx) }, unsafe { arg(given_alias) }) else {
            return -libc::ENOENT;
        };
        // SAFETY: list is NULL or points to the caller's list pointer.
        if list.is_null() || !unsafe { *list }.is_null() {
            log!(
                c,
                LOG_ERR,
                "kmod_module_new_from_lookup",
                "An empty list is needed to create lookup\n"
            );
            return -libc::ENOSYS;
        }
        match lookup(c, alias) {
            Ok(mods) => {
                // SAFETY: checked non-NULL.
                unsafe { *list = module_list(mods) };
                0
            }
            Err(e) => e,
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_module_new_from_name_lookup(
    ctx: *mut Ctx,
    modname: *const c_char,
    mod_out: *mut *mut Module,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live / a C string.
        let (Some(c), Some(name)) = (unsafe { ctx_ref(ctx) }, unsafe { arg(modname) }) else {
            return -libc::ENOENT;
        };
        if mod_out.is_null() {
            return -libc::ENOENT;
        }
        let Ok(text) = String::from_utf8(modname_normalize(name)) else {
            return 0;
        };
        let found = c.with_core(|core| core.lookup_name(&text));
        if let Ok(Some(f)) = found {
            // SAFETY: checked non-NULL.
            unsafe { *mod_out = adopt(c, f, false) };
        }
        0
    })
}

pub(crate) unsafe extern "C" fn kmod_module_new_from_loaded(
    ctx: *mut Ctx,
    list: *mut *mut KmodList,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(c) = (unsafe { ctx_ref(ctx) }) else {
            return -libc::ENOENT;
        };
        if list.is_null() {
            return -libc::ENOENT;
        }
        let names = match procfs::loaded_module_names(&c.root) {
            Ok(n) => n,
            Err(e) => {
                log!(
                    c,
                    LOG_ERR,
                    "kmod_module_new_from_loaded",
                    "could not open /proc/modules: {}\n",
                    strerror(e.errno())
                );
                return -e.errno();
            }
        };
        let mods = names
            .iter()
            .map(|n| get_or_create(c, &modname_normalize(n.as_bytes()), None))
            .collect();
        // SAFETY: checked non-NULL; overwritten, as libkmod does.
        unsafe { *list = module_list(mods) };
        0
    })
}
