//! `struct kmod_config_iter`: the configuration as key/value pairs, one
//! kind of directive at a time, in parse order.

use std::ffi::{c_char, CString};
use std::ptr;

use modutils_core::config::modprobe::ModprobeConfig;

use crate::ctx::{ctx_ref, Ctx};
use crate::ffi::{c_string, guard};

/// The configuration's strings as C strings, made once per context when
/// first asked for (most clients never iterate the configuration): keys
/// and values handed out borrow from here, and install and remove
/// commands of modules point here too.
pub(crate) struct ConfigStrings {
    kinds: [Vec<(CString, Option<CString>)>; 7],
}

#[derive(Clone, Copy)]
enum Kind {
    Blacklist = 0,
    Install,
    Remove,
    Alias,
    Options,
    Softdep,
    Weakdep,
}

impl ConfigStrings {
    pub(crate) fn new(config: &ModprobeConfig) -> ConfigStrings {
        let pair = |k: &[u8], v: &[u8]| (c_string(k), Some(c_string(v)));
        ConfigStrings {
            kinds: [
                config
                    .blacklists
                    .iter()
                    .map(|b| (c_string(b), None))
                    .collect(),
                config
                    .installs
                    .iter()
                    .map(|c| pair(&c.modname, &c.command))
                    .collect(),
                config
                    .removes
                    .iter()
                    .map(|c| pair(&c.modname, &c.command))
                    .collect(),
                config
                    .aliases
                    .iter()
                    .map(|a| pair(&a.pattern, &a.modname))
                    .collect(),
                config
                    .options
                    .iter()
                    .map(|o| pair(&o.modname, &o.options))
                    .collect(),
                config
                    .softdeps
                    .iter()
                    .map(|d| pair(&d.modname, &d.display()))
                    .collect(),
                config
                    .weakdeps
                    .iter()
                    .map(|d| pair(&d.modname, &d.names.join(&b' ')))
                    .collect(),
            ],
        }
    }

    /// The install command of the `index`th `install` line.
    pub(crate) fn install(&self, index: usize) -> *const c_char {
        self.value(Kind::Install, index)
    }

    /// The remove command of the `index`th `remove` line.
    pub(crate) fn remove(&self, index: usize) -> *const c_char {
        self.value(Kind::Remove, index)
    }

    fn value(&self, kind: Kind, index: usize) -> *const c_char {
        self.kinds[kind as usize]
            .get(index)
            .and_then(|(_, v)| v.as_ref())
            .map_or(ptr::null(), |v| v.as_ptr())
    }
}

/// An iterator: the context it reads (holding no reference, as in
/// libkmod: the client keeps the context alive) and its position.
pub struct ConfigIter {
    ctx: *const Ctx,
    kind: Kind,
    /// 0: before the first entry; n: on entry n-1.
    pos: usize,
}

impl ConfigIter {
    fn entry(&self) -> Option<&(CString, Option<CString>)> {
        let at = self.pos.checked_sub(1)?;
        // SAFETY: the context outlives its iterators (the contract).
        let ctx = unsafe { &*self.ctx };
        ctx.config_strings().kinds[self.kind as usize].get(at)
    }
}

fn new_iter(ctx: *const Ctx, kind: Kind) -> *mut ConfigIter {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or live.
        if unsafe { ctx_ref(ctx) }.is_none() {
            return ptr::null_mut();
        }
        Box::into_raw(Box::new(ConfigIter { ctx, kind, pos: 0 }))
    })
}

pub(crate) unsafe extern "C" fn kmod_config_get_blacklists(ctx: *const Ctx) -> *mut ConfigIter {
    new_iter(ctx, Kind::Blacklist)
}

pub(crate) unsafe extern "C" fn kmod_config_get_install_commands(
    ctx: *const Ctx,
) -> *mut ConfigIter {
    new_iter(ctx, Kind::Install)
}

pub(crate) unsafe extern "C" fn kmod_config_get_remove_commands(
    ctx: *const Ctx,
) -> *mut ConfigIter {
    new_iter(ctx, Kind::Remove)
}

pub(crate) unsafe extern "C" fn kmod_config_get_aliases(ctx: *const Ctx) -> *mut ConfigIter {
    new_iter(ctx, Kind::Alias)
}

pub(crate) unsafe extern "C" fn kmod_config_get_options(ctx: *const Ctx) -> *mut ConfigIter {
    new_iter(ctx, Kind::Options)
}

pub(crate) unsafe extern "C" fn kmod_config_get_softdeps(ctx: *const Ctx) -> *mut ConfigIter {
    new_iter(ctx, Kind::Softdep)
}

pub(crate) unsafe extern "C" fn kmod_config_get_weakdeps(ctx: *const Ctx) -> *mut ConfigIter {
    new_iter(ctx, Kind::Weakdep)
}

pub(crate) unsafe extern "C" fn kmod_config_iter_get_key(iter: *const ConfigIter) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or a live iterator.
        let Some(it) = (unsafe { iter.as_ref() }) else {
            return ptr::null();
        };
        it.entry().map_or(ptr::null(), |(k, _)| k.as_ptr())
    })
}

pub(crate) unsafe extern "C" fn kmod_config_iter_get_value(
    iter: *const ConfigIter,
) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or a live iterator.
        let Some(it) = (unsafe { iter.as_ref() }) else {
            return ptr::null();
        };
        it.entry()
            .and_then(|(_, v)| v.as_ref())
            .map_or(ptr::null(), |v| v.as_ptr())
    })
}

pub(crate) unsafe extern "C" fn kmod_config_iter_next(iter: *mut ConfigIter) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live iterator.
        let Some(it) = (unsafe { iter.as_mut() }) else {
            return false;
        };
        // SAFETY: the context outlives its iterators.
        let len = unsafe { &*it.ctx }.config_strings().kinds[it.kind as usize].len();
        if it.pos < len {
            it.pos += 1;
            true
        } else {
            // Past the end: start over on the next call.
            it.pos = 0;
            false
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_config_iter_free_iter(iter: *mut ConfigIter) {
    guard((), || {
        if !iter.is_null() {
            // SAFETY: made by Box::into_raw in new_iter, freed once.
            drop(unsafe { Box::from_raw(iter) });
        }
    })
}
