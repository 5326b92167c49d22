//! `struct kmod_module`: identity, references, and the state a module
//! object learns lazily (its file, its modules.dep line, whether it is
//! built in, its configuration strings).
//!
//! As in libkmod, a context keeps one live object per key — the name for
//! modules made by name or file, `name\alias` for modules found through an
//! alias — and creating an existing key returns the same object with one
//! more reference. Every object holds a reference on its context and on
//! the dependency objects it has cached.

use std::cell::{Cell, OnceCell, RefCell};
use std::ffi::{c_char, c_int, c_void, CString, OsStr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::ptr;
use std::rc::Rc;

use modutils_core::module_file::ModuleFile;
use modutils_core::name::{modname_from_path_bytes, modname_normalize};

use crate::ctx::{ctx_ref, Ctx};
use crate::ffi::{arg, c_string, guard, neg_errno};
use crate::list::{self, KmodList};
use crate::log::{log, LOG_ERR};
use modutils_core::diagnostics::strerror;

pub struct Module {
    pub(crate) ctx: *const Ctx,
    refs: Cell<usize>,
    key: Vec<u8>,
    pub(crate) name: CString,
    /// The alias or config pattern it was found through.
    pub(crate) alias: Option<Vec<u8>>,
    /// Set once, then never changed: clients hold the pointer.
    path: OnceCell<CString>,
    /// Dependencies in load order (deepest first), each holding a
    /// reference; `None` until parsed.
    deps: RefCell<Option<Vec<*mut Module>>>,
    pub(crate) builtin: Cell<Option<bool>>,
    pub(crate) options: OnceCell<Option<CString>>,
    /// Pointers into the context's configuration strings; `None` until
    /// looked up (or preset by a lookup through install/remove commands).
    pub(crate) install: Cell<Option<*const c_char>>,
    pub(crate) remove: Cell<Option<*const c_char>>,
    /// Found through an install/remove command of its exact name.
    pub(crate) from_commands: Cell<bool>,
    /// The module file, opened on first use and kept.
    file: RefCell<Option<Rc<ModuleFile>>>,
}

impl Module {
    pub(crate) fn ctx(&self) -> &Ctx {
        // SAFETY: a module holds a reference on its context.
        unsafe { &*self.ctx }
    }

    pub(crate) fn name_bytes(&self) -> &[u8] {
        self.name.to_bytes()
    }

    pub(crate) fn name_lossy(&self) -> String {
        String::from_utf8_lossy(self.name_bytes()).into_owned()
    }

    pub(crate) fn known_path(&self) -> Option<&CString> {
        self.path.get()
    }

    pub(crate) fn path_buf(&self) -> Option<PathBuf> {
        self.path
            .get()
            .map(|p| PathBuf::from(OsStr::from_bytes(p.to_bytes())))
    }

    fn set_path(&self, path: &Path) {
        let _ = self.path.set(c_string(path.as_os_str().as_bytes()));
    }

    /// Takes in the modules.dep line a lookup read. libkmod parses it at
    /// once, so a dependency file that is missing is logged by the lookup,
    /// not by a later query.
    pub(crate) fn offer_dep_line(&self, path: Option<PathBuf>, deps: Option<Vec<PathBuf>>) {
        if let (Some(p), Some(d)) = (path, deps) {
            if self.deps.borrow().is_none() {
                self.parse_dep_line(Some((p, d)));
            }
        }
    }

    /// Built in: known from how the object was made, else asked of
    /// modules.builtin once.
    pub(crate) fn is_builtin(&self) -> bool {
        if let Some(b) = self.builtin.get() {
            return b;
        }
        let b = self
            .ctx()
            .with_core(|core| core.is_builtin(self.name_bytes()));
        self.builtin.set(Some(b));
        b
    }

    /// The module's path, reading its modules.dep line if needed.
    pub(crate) fn path(&self) -> Option<&CString> {
        if self.path.get().is_none() && self.deps.borrow().is_none() {
            self.parse_dep_line(None);
        }
        self.path.get()
    }

    /// Dependencies (new references for the caller), parsing the
    /// modules.dep line on first use.
    pub(crate) fn dependencies(&self) -> Vec<*mut Module> {
        if self.deps.borrow().is_none() {
            self.parse_dep_line(None);
        }
        let deps = self.deps.borrow();
        let deps = deps.as_deref().unwrap_or_default();
        for &d in deps {
            // SAFETY: cached dependencies are live (we hold references).
            unsafe { (*d).add_ref() };
        }
        deps.to_vec()
    }

    /// Reads the module's modules.dep line: its path (unless known) and
    /// its dependencies as objects made from their files. If one cannot be
    /// made, nothing is kept and the next call tries again.
    fn parse_dep_line(&self, given: Option<(PathBuf, Vec<PathBuf>)>) {
        let ctx = self.ctx();
        let line = given.or_else(|| ctx.with_core(|core| core.dependencies(self.name_bytes())));
        let Some((path, dep_paths)) = line else {
            return;
        };
        if self.path.get().is_none() {
            self.set_path(&path);
        }
        let mut deps = Vec::with_capacity(dep_paths.len());
        // In the line's order, as libkmod makes them (the first missing
        // file is the one logged); kept deepest first.
        for p in &dep_paths {
            match new_from_path(ctx, p.as_os_str().as_bytes()) {
                Ok(m) => deps.push(m),
                Err(e) => {
                    log!(
                        ctx,
                        LOG_ERR,
                        "kmod_module_parse_depline",
                        "ctx={:p} path={} error={}\n",
                        self.ctx,
                        p.display(),
                        strerror(-e)
                    );
                    for d in deps {
                        // SAFETY: made just above, each with one reference.
                        unsafe { release(d) };
                    }
                    return;
                }
            }
        }
        deps.reverse();
        *self.deps.borrow_mut() = Some(deps);
    }

    /// The module file, opened once (kept for later queries and insertion).
    pub(crate) fn file(&self) -> Result<Rc<ModuleFile>, c_int> {
        if let Some(f) = &*self.file.borrow() {
            return Ok(f.clone());
        }
        let Some(path) = self.path_buf() else {
            return Err(-libc::ENOENT);
        };
        let host = self.ctx().root.host(&path);
        let file = Rc::new(ModuleFile::open(host).map_err(|e| -e.errno())?);
        *self.file.borrow_mut() = Some(file.clone());
        Ok(file)
    }

    pub(crate) fn add_ref(&self) {
        self.refs.set(self.refs.get() + 1);
    }
}

/// Drops one reference; with the last, the object leaves its context's
/// table, releases its dependencies and its context reference.
///
/// # Safety
/// `m` is a live module.
pub(crate) unsafe fn release(m: *mut Module) -> *mut Module {
    // SAFETY: the caller's contract.
    let module = unsafe { &*m };
    let refs = module.refs.get().saturating_sub(1);
    module.refs.set(refs);
    if refs > 0 {
        // SAFETY: the module's context is live (the module holds it).
        if unsafe { collect_cycles(module.ctx) } {
            return ptr::null_mut();
        }
        return m;
    }
    let ctx = module.ctx;
    module.ctx().modules.borrow_mut().remove(&module.key);
    // SAFETY: made by Box::into_raw in get_or_create; no reference is left.
    let owned = unsafe { Box::from_raw(m) };
    if let Some(deps) = owned.deps.borrow_mut().take() {
        for d in deps {
            // SAFETY: we held a reference on each.
            unsafe { release(d) };
        }
    }
    drop(owned);
    // SAFETY: the object's own context reference.
    unsafe { Ctx::release(ctx) };
    ptr::null_mut()
}

/// Frees what only a dependency cycle keeps alive. modules.dep may list
/// two modules as each other's dependency (each line is a closure), and
/// module objects hold references on the dependencies they parsed: once
/// nobody but module objects holds the context and every module's
/// references all come from other modules' dependency lists, the lists
/// are dropped, which frees the modules and then the context. Returns
/// whether that happened (then `ctx` is gone).
///
/// # Safety
/// `ctx` is a live context.
pub(crate) unsafe fn collect_cycles(ctx: *const Ctx) -> bool {
    // SAFETY: the caller's contract.
    let c = unsafe { &*ctx };
    let modules: Vec<*mut Module> = {
        let table = c.modules.borrow();
        // Each live module holds one context reference: any other is a
        // client's (or a module being freed right now).
        if table.is_empty() || c.refs() != table.len() {
            return false;
        }
        table.values().copied().collect()
    };
    let mut held: std::collections::HashMap<*mut Module, usize> = Default::default();
    for &m in &modules {
        // SAFETY: objects in the table are live.
        if let Some(deps) = unsafe { &*m }.deps.borrow().as_deref() {
            for &d in deps {
                *held.entry(d).or_default() += 1;
            }
        }
    }
    let garbage = modules.iter().all(|&m| {
        // SAFETY: objects in the table are live.
        unsafe { &*m }.refs.get() == held.get(&m).copied().unwrap_or(0)
    });
    if !garbage {
        return false;
    }
    let lists: Vec<*mut Module> = modules
        .iter()
        // SAFETY: objects in the table are live.
        .flat_map(|&m| unsafe { &*m }.deps.borrow_mut().take().unwrap_or_default())
        .collect();
    for d in lists {
        // SAFETY: the references the lists held; the last frees the context.
        unsafe { release(d) };
    }
    true
}

fn key_of(name: &[u8], alias: Option<&[u8]>) -> Vec<u8> {
    let mut key = name.to_vec();
    if let Some(a) = alias {
        key.push(b'\\');
        key.extend_from_slice(a);
    }
    key
}

/// The live object for (name, alias) with one more reference, or a new
/// one with one reference. `name` is already normalized.
pub(crate) fn get_or_create(ctx: &Ctx, name: &[u8], alias: Option<&[u8]>) -> *mut Module {
    let key = key_of(name, alias);
    if let Some(&m) = ctx.modules.borrow().get(&key) {
        // SAFETY: objects in the table are live.
        unsafe { (*m).add_ref() };
        return m;
    }
    ctx.add_ref();
    let m = Box::into_raw(Box::new(Module {
        ctx: ctx as *const Ctx,
        refs: Cell::new(1),
        key: key.clone(),
        name: c_string(name),
        alias: alias.map(<[u8]>::to_vec),
        path: OnceCell::new(),
        deps: RefCell::new(None),
        builtin: Cell::new(None),
        options: OnceCell::new(),
        install: Cell::new(None),
        remove: Cell::new(None),
        from_commands: Cell::new(false),
        file: RefCell::new(None),
    }));
    ctx.modules.borrow_mut().insert(key, m);
    m
}

/// kmod_module_new_from_path on a context: the object for the file's
/// module name, adopting this path, or -EEXIST if it has another one.
pub(crate) fn new_from_path(ctx: &Ctx, path: &[u8]) -> Result<*mut Module, c_int> {
    let abs = if path.starts_with(b"/") {
        path.to_vec()
    } else {
        let mut cwd = std::env::current_dir()
            .map_err(|e| neg_errno(&e))?
            .into_os_string()
            .into_vec();
        cwd.push(b'/');
        cwd.extend_from_slice(path);
        cwd
    };
    let abs_path = Path::new(OsStr::from_bytes(&abs));
    std::fs::metadata(ctx.root.host(abs_path)).map_err(|e| neg_errno(&e))?;
    let name = modname_from_path_bytes(&abs);
    if name.is_empty() {
        return Err(-libc::ENOENT);
    }
    let m = get_or_create(ctx, &name, None);
    // SAFETY: just made or found, with our reference.
    let module = unsafe { &*m };
    match module.known_path() {
        None => module.set_path(abs_path),
        Some(p) if p.to_bytes() == abs.as_slice() => {}
        Some(p) => {
            log!(
                ctx,
                LOG_ERR,
                "kmod_module_new_from_path",
                "kmod_module '{}' already exists with different path: new-path='{}' old-path='{}'\n",
                module.name_lossy(),
                abs_path.display(),
                String::from_utf8_lossy(p.to_bytes())
            );
            // SAFETY: drops the reference taken above.
            unsafe { release(m) };
            return Err(-libc::EEXIST);
        }
    }
    module.builtin.set(Some(false));
    Ok(m)
}

/// # Safety
/// `m` is NULL or a live module.
pub(crate) unsafe fn module_ref<'a>(m: *const Module) -> Option<&'a Module> {
    // SAFETY: the caller's contract.
    unsafe { m.as_ref() }
}

pub(crate) unsafe extern "C" fn kmod_module_new_from_name(
    ctx: *mut Ctx,
    name: *const c_char,
    mod_out: *mut *mut Module,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live / a C string.
        let (Some(c), Some(name)) = (unsafe { ctx_ref(ctx) }, unsafe { arg(name) }) else {
            return -libc::ENOENT;
        };
        if mod_out.is_null() {
            return -libc::ENOENT;
        }
        let m = get_or_create(c, &modname_normalize(name), None);
        // SAFETY: checked non-NULL.
        unsafe { *mod_out = m };
        0
    })
}

pub(crate) unsafe extern "C" fn kmod_module_new_from_path(
    ctx: *mut Ctx,
    path: *const c_char,
    mod_out: *mut *mut Module,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live / a C string.
        let (Some(c), Some(path)) = (unsafe { ctx_ref(ctx) }, unsafe { arg(path) }) else {
            return -libc::ENOENT;
        };
        if mod_out.is_null() {
            return -libc::ENOENT;
        }
        match new_from_path(c, path) {
            Ok(m) => {
                // SAFETY: checked non-NULL.
                unsafe { *mod_out = m };
                0
            }
            Err(e) => e,
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_module_ref(m: *mut Module) -> *mut Module {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or live.
        if let Some(module) = unsafe { module_ref(m) } {
            module.add_ref();
        }
        m
    })
}

pub(crate) unsafe extern "C" fn kmod_module_unref(m: *mut Module) -> *mut Module {
    guard(ptr::null_mut(), || {
        if m.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: live; the client gives up one reference.
        unsafe { release(m) }
    })
}

/// A list of modules whose nodes each own one reference.
pub(crate) fn module_list(mods: Vec<*mut Module>) -> *mut KmodList {
    list::from_vec(mods.into_iter().map(|m| m.cast::<c_void>()).collect())
}

/// The modules of a module list (borrowed).
///
/// # Safety
/// `l` is NULL or a live module list.
pub(crate) unsafe fn modules_of(l: *const KmodList) -> Vec<*mut Module> {
    // SAFETY: the caller's contract.
    unsafe { list::items(l) }
        .into_iter()
        .map(|d| d.cast::<Module>())
        .collect()
}

pub(crate) unsafe extern "C" fn kmod_module_unref_list(l: *mut KmodList) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a live module list, freed once here.
        unsafe {
            list::free(l, |d| {
                if !d.is_null() {
                    release(d.cast::<Module>());
                }
            })
        };
        0
    })
}

pub(crate) unsafe extern "C" fn kmod_module_get_module(entry: *const KmodList) -> *mut Module {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or a live node of a module list.
        let m = unsafe { list::data(entry) }.cast::<Module>();
        // SAFETY: the node's module is live (the node holds a reference).
        if let Some(module) = unsafe { module_ref(m) } {
            module.add_ref();
        }
        m
    })
}
