//! What a module object says about itself: name, path, configuration
//! strings, dependencies and soft/weak dependencies.

use std::ffi::{c_char, c_int};
use std::ptr;

use crate::ffi::{c_string, guard};
use crate::list::KmodList;
use crate::log::{log, LOG_ERR};
use crate::lookup::lookup;
use crate::module::{module_list, module_ref, Module};

pub(crate) unsafe extern "C" fn kmod_module_get_name(m: *const Module) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or live.
        unsafe { module_ref(m) }.map_or(ptr::null(), |m| m.name.as_ptr())
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_path(m: *const Module) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return ptr::null();
        };
        module.path().map_or(ptr::null(), |p| p.as_ptr())
    })
}

impl Module {
    /// The configured options for the name or the alias it was found
    /// through, joined; computed once.
    pub(crate) fn options_cstr(&self) -> Option<&std::ffi::CStr> {
        self.options
            .get_or_init(|| {
                let config = self.ctx().config();
                config
                    .options_for(self.name_bytes(), self.alias.as_deref())
                    .map(|o| c_string(&o))
            })
            .as_deref()
    }

    /// The first install command whose pattern matches the name (or the
    /// one the module was found through), borrowed from the context.
    pub(crate) fn install_command(&self) -> *const c_char {
        if let Some(p) = self.install.get() {
            return p;
        }
        let p = {
            let config = self.ctx().config();
            let cmd = config.install_command(self.name_bytes());
            cmd.and_then(|c| {
                config
                    .installs
                    .iter()
                    .position(|i| ptr::eq(i.command.as_slice(), c))
            })
            .map_or(ptr::null(), |i| self.ctx().config_strings().install(i))
        };
        self.install.set(Some(p));
        p
    }

    pub(crate) fn remove_command(&self) -> *const c_char {
        if let Some(p) = self.remove.get() {
            return p;
        }
        let p = {
            let config = self.ctx().config();
            let cmd = config.remove_command(self.name_bytes());
            cmd.and_then(|c| {
                config
                    .removes
                    .iter()
                    .position(|i| ptr::eq(i.command.as_slice(), c))
            })
            .map_or(ptr::null(), |i| self.ctx().config_strings().remove(i))
        };
        self.remove.set(Some(p));
        p
    }

    /// Soft dependencies: the first matching `softdep` line, each name
    /// resolved by the full lookup.
    pub(crate) fn softdeps(&self) -> (Vec<*mut Module>, Vec<*mut Module>) {
        let names = {
            let config = self.ctx().config();
            config.softdeps_for(self.name_bytes()).map(|d| {
                let pre: Vec<Vec<u8>> = d.pre().map(<[u8]>::to_vec).collect();
                let post: Vec<Vec<u8>> = d.post().map(<[u8]>::to_vec).collect();
                (pre, post)
            })
        };
        match names {
            Some((pre, post)) => (self.resolve(&pre), self.resolve(&post)),
            None => (Vec::new(), Vec::new()),
        }
    }

    fn weakdeps(&self) -> Vec<*mut Module> {
        let names = {
            let config = self.ctx().config();
            config
                .weakdeps_for(self.name_bytes())
                .map(|d| d.names.clone())
        };
        names.map(|n| self.resolve(&n)).unwrap_or_default()
    }

    fn resolve(&self, names: &[Vec<u8>]) -> Vec<*mut Module> {
        let mut out = Vec::new();
        for n in names {
            match lookup(self.ctx(), n) {
                Ok(found) => out.extend(found),
                Err(_) => log!(
                    self.ctx(),
                    LOG_ERR,
                    "lookup_dep",
                    "failed to lookup dependency '{}', continuing anyway.\n",
                    String::from_utf8_lossy(n)
                ),
            }
        }
        out
    }
}

pub(crate) unsafe extern "C" fn kmod_module_get_options(m: *const Module) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return ptr::null();
        };
        module.options_cstr().map_or(ptr::null(), |o| o.as_ptr())
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_install_commands(
    m: *const Module,
) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or live.
        unsafe { module_ref(m) }.map_or(ptr::null(), Module::install_command)
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_remove_commands(m: *const Module) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or live.
        unsafe { module_ref(m) }.map_or(ptr::null(), Module::remove_command)
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_dependencies(m: *const Module) -> *mut KmodList {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return ptr::null_mut();
        };
        module_list(module.dependencies())
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_softdeps(
    m: *const Module,
    pre: *mut *mut KmodList,
    post: *mut *mut KmodList,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return -libc::ENOENT;
        };
        if pre.is_null() || post.is_null() {
            return -libc::ENOENT;
        }
        // libkmod asserts (aborts) here; refusing keeps the caller's lists.
        // SAFETY: both point to the caller's list pointers.
        if unsafe { !(*pre).is_null() || !(*post).is_null() } {
            return -libc::EINVAL;
        }
        let (p, q) = module.softdeps();
        // SAFETY: as above.
        unsafe {
            *pre = module_list(p);
            *post = module_list(q);
        }
        0
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_weakdeps(
    m: *const Module,
    weak: *mut *mut KmodList,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return -libc::ENOENT;
        };
        if weak.is_null() {
            return -libc::ENOENT;
        }
        // SAFETY: points to the caller's list pointer.
        if unsafe { !(*weak).is_null() } {
            return -libc::EINVAL;
        }
        let w = module.weakdeps();
        // SAFETY: as above.
        unsafe { *weak = module_list(w) };
        0
    })
}
