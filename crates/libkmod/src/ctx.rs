//! `struct kmod_ctx`: creation, references, user data, logging settings
//! and the resources (indexes) of a module directory.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CString, OsStr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::ptr;

use modutils_core::config::modprobe::{KernelCmdline, LoadOptions, ModprobeConfig, DEFAULT_DIRS};
use modutils_core::context::{Context, IndexKind};
use modutils_core::index::IndexError;
use modutils_core::probe::{fake_kernel_log, kernel_compression, FakeSystem, HostSystem, System};
use modutils_core::root::MODULE_DIRECTORY;
use modutils_core::Root;

use crate::config_iter::ConfigStrings;
use crate::ffi::{arg, c_string, guard};
use crate::log::{log, Logger, LOG_ERR, LOG_INFO};
use crate::module::Module;

/// One module directory with its configuration; see the crate docs.
pub struct Ctx {
    refs: Cell<usize>,
    pub(crate) logger: Logger,
    userdata: Cell<*const c_void>,
    /// The module directory as a target path (what get_dirname shows).
    pub(crate) dirname: CString,
    pub(crate) root: Root,
    core: RefCell<Context>,
    /// kmod_load_resources was called (and not undone): indexes stay open.
    loaded: Cell<bool>,
    /// mtime (µs) of each index when it was loaded.
    index_stamps: RefCell<Vec<(PathBuf, Option<i64>)>>,
    /// The configuration paths that existed at creation, with their mtime.
    config_stamps: Vec<(PathBuf, Option<i64>)>,
    /// The live modules by key (name, or name and alias): they are not
    /// owned here, each removes itself when freed.
    pub(crate) modules: RefCell<HashMap<Vec<u8>, *mut Module>>,
    pub(crate) system: RefCell<Box<dyn System>>,
    config_strings: OnceCell<ConfigStrings>,
}

impl Ctx {
    /// Runs `f` on the core context. Without loaded resources, indexes
    /// opened for the query are closed again after it, as libkmod opens
    /// and closes them per query (so a new depmod run is seen at once).
    pub(crate) fn with_core<R>(&self, f: impl FnOnce(&Context) -> R) -> R {
        let out = f(&self.core.borrow());
        if !self.loaded.get() {
            if let Ok(mut core) = self.core.try_borrow_mut() {
                core.unload_indexes();
            }
        }
        out
    }

    pub(crate) fn resources_loaded(&self) -> bool {
        self.loaded.get()
    }

    pub(crate) fn dirname_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(self.dirname.to_bytes()))
    }

    pub(crate) fn config(&self) -> std::cell::Ref<'_, ModprobeConfig> {
        std::cell::Ref::map(self.core.borrow(), Context::config)
    }

    /// The configuration's C strings, made on first use.
    pub(crate) fn config_strings(&self) -> &ConfigStrings {
        self.config_strings
            .get_or_init(|| ConfigStrings::new(&self.config()))
    }

    pub(crate) fn add_ref(&self) {
        self.refs.set(self.refs.get() + 1);
    }

    pub(crate) fn refs(&self) -> usize {
        self.refs.get()
    }

    /// Drops one reference; frees the context with the last.
    ///
    /// # Safety
    /// `ctx` is a live context; with its last reference it must not be
    /// used again.
    pub(crate) unsafe fn release(ctx: *const Ctx) -> *mut Ctx {
        // SAFETY: the caller's contract.
        let c = unsafe { &*ctx };
        let refs = c.refs.get().saturating_sub(1);
        c.refs.set(refs);
        if refs > 0 {
            // SAFETY: live; it may be freed here, and is not used after.
            if unsafe { crate::module::collect_cycles(ctx) } {
                return ptr::null_mut();
            }
            return ctx.cast_mut();
        }
        log!(c, LOG_INFO, "kmod_unref", "context {:p} released\n", ctx);
        // SAFETY: made by Box::into_raw in kmod_new; no reference is left.
        drop(unsafe { Box::from_raw(ctx.cast_mut()) });
        ptr::null_mut()
    }
}

/// mtime in microseconds, as libkmod stamps files.
fn mtime_usec(host: &Path) -> Option<i64> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(host).ok()?;
    Some(m.mtime() * 1_000_000 + m.mtime_nsec() / 1000)
}

/// kmod_new's module directory: the running kernel's, an absolute path
/// as given, or a relative one after the working directory.
fn module_dir(root: &Root, dirname: Option<&[u8]>) -> Option<Vec<u8>> {
    match dirname {
        None => {
            let release = root.kernel_release();
            if release.is_empty() {
                return None;
            }
            Some(format!("{MODULE_DIRECTORY}/{release}").into_bytes())
        }
        Some(d) if d.starts_with(b"/") => Some(d.to_vec()),
        Some(d) => {
            let mut cwd = std::env::current_dir().ok()?.into_os_string().into_vec();
            cwd.push(b'/');
            cwd.extend_from_slice(d);
            Some(cwd)
        }
    }
}

/// The kernel to load into: the fake one when the environment asks for it
/// (the tools' rule, [`fake_kernel_log`]), else the real one.
fn system_for(ctx_root: &Root, logger: &Logger) -> Box<dyn System> {
    if let Some(log) = fake_kernel_log(ctx_root) {
        return Box::new(FakeSystem::new(ctx_root.clone(), Some(log)));
    }
    let (compression, complaint) = kernel_compression(ctx_root);
    if let Some(msg) = complaint {
        if logger.enabled(LOG_ERR) {
            logger.log(LOG_ERR, line!(), "kmod_new", msg.as_bytes());
        }
    }
    Box::new(HostSystem::new(ctx_root.clone(), compression))
}

/// # Safety
/// `dirname` is NULL or a C string; `config_paths` NULL or a
/// NULL-terminated array of C strings.
pub(crate) unsafe extern "C" fn kmod_new(
    dirname: *const c_char,
    config_paths: *const *const c_char,
) -> *mut Ctx {
    guard(ptr::null_mut(), || {
        let root = Root::from_env();
        let logger = Logger::from_env();
        // SAFETY: the caller's contract.
        let Some(dir) = module_dir(&root, unsafe { arg(dirname) }) else {
            return ptr::null_mut();
        };
        let paths: Option<Vec<PathBuf>> = if config_paths.is_null() {
            None
        } else {
            let mut v = Vec::new();
            let mut p = config_paths;
            // SAFETY: a NULL-terminated array of C strings.
            while let Some(s) = unsafe { arg(*p) } {
                v.push(PathBuf::from(OsStr::from_bytes(s)));
                p = unsafe { p.add(1) };
            }
            Some(v)
        };
        let stamped: Vec<PathBuf> = match &paths {
            Some(v) => v.clone(),
            None => DEFAULT_DIRS.iter().map(|d| PathBuf::from(*d)).collect(),
        };
        let config_stamps = stamped
            .iter()
            .map(|p| root.host(p))
            .filter_map(|h| mtime_usec(&h).map(|t| (h, Some(t))))
            .collect();
        let dir_path = PathBuf::from(OsStr::from_bytes(&dir));
        let loaded = ModprobeConfig::load(&LoadOptions {
            root: &root,
            config_paths: paths,
            module_dir: Some(dir_path.clone()),
            kernel_cmdline: KernelCmdline::Proc,
        });
        // Logged before a client can set its own function: to stderr.
        for d in &loaded.diagnostics {
            let prio = d.level as i32;
            if logger.enabled(prio) {
                let mut msg = d.message.clone();
                msg.push(b'\n');
                logger.log(prio, line!(), d.function, &msg);
            }
        }
        let system = system_for(&root, &logger);
        let ctx = Box::new(Ctx {
            refs: Cell::new(1),
            logger,
            userdata: Cell::new(ptr::null()),
            dirname: c_string(&dir),
            core: RefCell::new(
                Context::new(root.clone(), Some(dir_path)).with_config(loaded.config),
            ),
            root,
            loaded: Cell::new(false),
            index_stamps: RefCell::new(Vec::new()),
            config_stamps,
            modules: RefCell::new(HashMap::new()),
            system: RefCell::new(system),
            config_strings: OnceCell::new(),
        });
        let raw = Box::into_raw(ctx);
        // SAFETY: just made.
        let c = unsafe { &*raw };
        log!(c, LOG_INFO, "kmod_new", "ctx {:p} created\n", raw);
        raw
    })
}

/// # Safety
/// `ctx` is NULL or a live context.
pub(crate) unsafe fn ctx_ref<'a>(ctx: *const Ctx) -> Option<&'a Ctx> {
    // SAFETY: the caller's contract.
    unsafe { ctx.as_ref() }
}

pub(crate) unsafe extern "C" fn kmod_ref(ctx: *mut Ctx) -> *mut Ctx {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or live.
        if let Some(c) = unsafe { ctx_ref(ctx) } {
            c.add_ref();
        }
        ctx
    })
}

pub(crate) unsafe extern "C" fn kmod_unref(ctx: *mut Ctx) -> *mut Ctx {
    guard(ptr::null_mut(), || {
        if ctx.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: live; the client gives up one reference.
        unsafe { Ctx::release(ctx) }
    })
}

pub(crate) unsafe extern "C" fn kmod_set_log_priority(ctx: *mut Ctx, priority: c_int) {
    guard((), || {
        // SAFETY: NULL or live.
        if let Some(c) = unsafe { ctx_ref(ctx) } {
            c.logger.set_priority(priority);
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_get_log_priority(ctx: *const Ctx) -> c_int {
    guard(-1, || {
        // SAFETY: NULL or live.
        unsafe { ctx_ref(ctx) }.map_or(-1, |c| c.logger.priority())
    })
}

pub(crate) unsafe extern "C" fn kmod_set_log_fn(
    ctx: *mut Ctx,
    log_fn: *const c_void,
    data: *const c_void,
) {
    guard((), || {
        // SAFETY: NULL or live.
        let Some(c) = (unsafe { ctx_ref(ctx) }) else {
            return;
        };
        c.logger.set_client(log_fn, data);
        log!(
            c,
            LOG_INFO,
            "kmod_set_log_fn",
            "custom logging function {:p} registered\n",
            log_fn
        );
    })
}

pub(crate) unsafe extern "C" fn kmod_set_userdata(ctx: *mut Ctx, userdata: *const c_void) {
    guard((), || {
        // SAFETY: NULL or live.
        if let Some(c) = unsafe { ctx_ref(ctx) } {
            c.userdata.set(userdata);
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_get_userdata(ctx: *const Ctx) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or live.
        unsafe { ctx_ref(ctx) }.map_or(ptr::null_mut(), |c| c.userdata.get().cast_mut())
    })
}

pub(crate) unsafe extern "C" fn kmod_get_dirname(ctx: *const Ctx) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or live.
        unsafe { ctx_ref(ctx) }.map_or(ptr::null(), |c| c.dirname.as_ptr())
    })
}

fn index_errno(e: &IndexError) -> c_int {
    match e {
        IndexError::Io { source, .. } => crate::ffi::neg_errno(source),
        _ => -libc::EINVAL,
    }
}

/// What libkmod logs when it maps an index whose header is not one
/// (a file too short or unreadable is not logged).
fn log_bad_header(c: &Ctx, e: &IndexError) {
    const FUNCTION: &str = "index_mm_open";
    match e {
        IndexError::BadMagic { magic, .. } => log!(
            c,
            LOG_ERR,
            FUNCTION,
            "magic check fail: {magic:x} instead of {:x}\n",
            modutils_core::index::MAGIC
        ),
        IndexError::BadVersion { version, .. } => log!(
            c,
            LOG_ERR,
            FUNCTION,
            "major version check fail: {} instead of {}\n",
            version >> 16,
            modutils_core::index::VERSION_MAJOR
        ),
        _ => {}
    }
}

pub(crate) unsafe extern "C" fn kmod_load_resources(ctx: *mut Ctx) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(c) = (unsafe { ctx_ref(ctx) }) else {
            return -libc::ENOENT;
        };
        let Ok(mut core) = c.core.try_borrow_mut() else {
            return -libc::EBUSY;
        };
        let result = core.load_indexes_reporting(&mut |e| log_bad_header(c, e));
        if let Err(e) = &result {
            log_bad_header(c, e);
        }
        match result {
            Ok(()) => {
                let dir = c.dirname_path();
                // Stamped from the files as opened, as libkmod does.
                *c.index_stamps.borrow_mut() = IndexKind::ALL
                    .iter()
                    .filter_map(|k| {
                        let index = core.index(*k)?;
                        let host = c.root.host(dir.join(k.file_name()));
                        Some((host, index.mtime_usec()))
                    })
                    .collect();
                c.loaded.set(true);
                0
            }
            Err(e) => {
                c.loaded.set(false);
                c.index_stamps.borrow_mut().clear();
                index_errno(&e)
            }
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_unload_resources(ctx: *mut Ctx) {
    guard((), || {
        // SAFETY: NULL or live.
        let Some(c) = (unsafe { ctx_ref(ctx) }) else {
            return;
        };
        if let Ok(mut core) = c.core.try_borrow_mut() {
            core.unload_indexes();
        }
        c.loaded.set(false);
        c.index_stamps.borrow_mut().clear();
    })
}

const RESOURCES_OK: c_int = 0;
const RESOURCES_MUST_RELOAD: c_int = 1;
const RESOURCES_MUST_RECREATE: c_int = 2;

pub(crate) unsafe extern "C" fn kmod_validate_resources(ctx: *mut Ctx) -> c_int {
    guard(RESOURCES_MUST_RECREATE, || {
        // SAFETY: NULL or live.
        let Some(c) = (unsafe { ctx_ref(ctx) }) else {
            return RESOURCES_MUST_RECREATE;
        };
        let changed = |(path, stamp): &(PathBuf, Option<i64>)| {
            let now = mtime_usec(path);
            now.is_none() || now != *stamp
        };
        if c.config_stamps.iter().any(changed) {
            return RESOURCES_MUST_RECREATE;
        }
        if c.loaded.get() && c.index_stamps.borrow().iter().any(changed) {
            return RESOURCES_MUST_RELOAD;
        }
        RESOURCES_OK
    })
}
