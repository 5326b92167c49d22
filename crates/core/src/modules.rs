//! The library for other programs: what udev, systemd or an installer
//! ask of libkmod, over the same engine the tools use.
//!
//! A [`Modules`] is the whole of libkmod's `kmod_ctx` for one root and
//! kernel version: the module directory's indexes (a
//! [`Context`], the part the tools use alone),
//! the modprobe.d configuration and the kernel command line, and a kernel
//! to load into (the real one, or a fake one for tests). Through it a
//! program can
//!
//! * look up a name, alias or modalias ([`Modules::lookup`]),
//! * ask a module's state ([`Modules::init_state`]),
//! * load a module with its dependencies, honouring the blacklist, as
//!   `modprobe` does ([`Modules::probe`]),
//! * remove one ([`Modules::remove`]),
//! * list the loaded modules with their holders ([`Modules::loaded`]),
//! * and notice that depmod rewrote the indexes ([`Modules::indexes_changed`]),
//!   to [`Modules::reload`] them.
//!
//! Nothing here prints: messages come back in the results. Everything is
//! read through the [`Root`], so the examples below run on a fake system
//! made by [`Sandbox`](crate::sandbox::Sandbox). Module names, aliases,
//! actions and messages are bytes, as kmod keeps them: modprobe.d and the
//! indexes may name modules with any byte but NUL, and a name is matched
//! byte for byte. Names may be passed as `&str` or as bytes.
//!
//! ```
//! use modutils_core::modules::{Error, Kernel, Modules, Options};
//! use modutils_core::probe::{InitState, ProbeOptions, Probed};
//! use modutils_core::sandbox::Sandbox;
//! use modutils_core::Root;
//!
//! let dir = tempfile::tempdir()?;
//! Sandbox::new("6.1.0-test")
//!     .module("e1000", &[])
//!     .alias("pci:v00008086d0000100Esv*sd*bc*sc*i*", "e1000")
//!     .write(dir.path())?;
//!
//! // A context for the running kernel of that root, with a fake kernel.
//! let mut modules = Modules::open(Options {
//!     kernel: Kernel::Fake { log: None },
//!     ..Options::new(Root::at(dir.path()))
//! });
//!
//! // What a device's modalias asks for (udev's "load the driver").
//! let alias = "pci:v00008086d0000100Esv00008086sd0000001Ebc02sc00i00";
//! let found = modules.lookup(alias)?;
//! assert_eq!(found[0].name, b"e1000");
//!
//! let loaded = modules.probe(alias, &ProbeOptions::default())?;
//! assert_eq!(loaded[0].module, b"e1000");
//! assert_eq!(loaded[0].result, Ok(Probed::Done));
//! assert_eq!(modules.init_state("e1000")?, Some(InitState::Live));
//!
//! modules.remove("e1000", &Default::default())?;
//! assert_eq!(modules.init_state("e1000")?, None);
//!
//! // A name that resolves to nothing is an error, to load and to remove.
//! let none = modules.probe("no_such_module", &ProbeOptions::default());
//! assert!(matches!(none, Err(Error::NotFound { .. })));
//! let none = modules.remove("no_such_module", &Default::default());
//! assert!(matches!(none, Err(Error::NotFound { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::config::modprobe::{KernelCmdline, LoadOptions, ModprobeConfig};
use crate::context::{Context, IndexKind, Module};
use crate::diagnostics::{Diagnostic, Level};
use crate::probe::{
    kernel_compression, Engine, FakeSystem, HostSystem, InitState, ModId, ProbeOptions, Probed,
    Recorded, RemoveOptions, Report, System,
};
use crate::{loaded, name, procfs, sysfs, Root};

/// Which kernel loads and unloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Kernel {
    /// The running kernel (`finit_module`, `delete_module`).
    #[default]
    Host,
    /// The fake kernel of [`FakeSystem`]: it keeps `/sys/module` under the
    /// root and, with `log`, appends every call to that host file.
    /// Install and remove commands are recorded, not run.
    Fake {
        /// The host file every call is appended to, if any.
        log: Option<PathBuf>,
    },
}

/// What a context is made of; [`Options::new`] gives modprobe's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// The system whose modules and configuration are used (`/` or a relocated root).
    pub root: Root,
    /// The kernel release whose modules to use; `None`: the running one
    /// (under a relocated root, its `/proc/sys/kernel/osrelease`).
    pub kernel_version: Option<String>,
    /// The module directory (a target path) instead of
    /// `/lib/modules/<kernel_version>`.
    pub module_dir: Option<PathBuf>,
    /// Configuration files or directories instead of modprobe.d's.
    pub config_paths: Option<Vec<PathBuf>>,
    /// Where `modprobe.*` options on the kernel command line come from.
    pub kernel_cmdline: KernelCmdline,
    /// Which kernel loads and removes modules: the running one or a fake.
    pub kernel: Kernel,
}

impl Options {
    /// modprobe's defaults on `root`: the running kernel's modules, the
    /// modprobe.d directories, `/proc/cmdline`, the real kernel.
    pub fn new(root: Root) -> Options {
        Options {
            root,
            kernel_version: None,
            module_dir: None,
            config_paths: None,
            kernel_cmdline: KernelCmdline::Proc,
            kernel: Kernel::Host,
        }
    }
}

/// Why a request could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The name has unbalanced brackets: nothing can match it.
    #[error("invalid module name or alias: {}", String::from_utf8_lossy(.0))]
    InvalidName(Vec<u8>),
    /// No module, alias or built-in module of that name.
    #[error("module {} not found in {}", String::from_utf8_lossy(name), dir.display())]
    NotFound {
        /// The name or alias asked for.
        name: Vec<u8>,
        /// The module directory searched, as a target path.
        dir: PathBuf,
    },
    /// `/proc/modules` could not be read.
    #[error(transparent)]
    Proc(#[from] procfs::Error),
    /// A `/sys/module` attribute could not be read.
    #[error(transparent)]
    Sys(#[from] sysfs::Error),
    /// The removal failed; `errno` is the reason, `messages` what libkmod
    /// would have logged.
    #[error(
        "could not remove {}: {}",
        String::from_utf8_lossy(module),
        crate::diagnostics::strerror(*errno)
    )]
    Remove {
        /// The module that could not be removed.
        module: Vec<u8>,
        /// The errno the removal failed with.
        errno: i32,
        /// What libkmod would have logged on the way, with each message's level.
        messages: Vec<(Level, Vec<u8>)>,
    },
}

/// The outcome of loading one module (an alias may name several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// The module's name.
    pub module: Vec<u8>,
    /// What happened, or the errno that stopped the load (`EEXIST` only
    /// with [`ProbeOptions::fail_on_loaded`]).
    pub result: Result<Probed, i32>,
    /// The actions `modprobe -v` would have shown (`insmod /path …`),
    /// without their newline.
    pub actions: Vec<Vec<u8>>,
    /// Messages libkmod would have logged, with their level.
    pub messages: Vec<(Level, Vec<u8>)>,
}

/// A loaded module, as lsmod shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The module's name as the kernel knows it (underscores, no extension).
    pub name: String,
    /// `/sys/module/<name>/coresize`, else `/proc/modules`' size.
    pub size: Option<u64>,
    /// `/sys/module/<name>/refcnt`; `None` on kernels that cannot unload.
    pub use_count: Option<i64>,
    /// The modules using this one (`/sys/module/<name>/holders`).
    pub holders: Vec<String>,
}

/// A context for one root and module directory; see the module documentation.
pub struct Modules {
    options: Options,
    ctx: Context,
    diagnostics: Vec<Diagnostic>,
    system: Box<dyn System>,
    /// What the index files were when this was opened.
    stamps: [Option<Stamp>; 5],
}

impl Modules {
    /// modprobe's defaults on `root` ([`Options::new`]) with the real
    /// kernel, for the running kernel or `kernel_version`.
    pub fn new(root: Root, kernel_version: Option<&str>) -> Modules {
        Modules::open(Options {
            kernel_version: kernel_version.map(str::to_string),
            ..Options::new(root)
        })
    }

    /// A context as `options` describe; the configuration is read now
    /// (its complaints are in [`Modules::diagnostics`]), each index when
    /// first needed.
    pub fn open(options: Options) -> Modules {
        let root = options.root.clone();
        let dir = options.module_dir.clone().unwrap_or_else(|| {
            let release = options.kernel_version.as_deref().map(OsStr::new);
            root.module_dir(None, release)
        });
        let loaded = ModprobeConfig::load(&LoadOptions {
            root: &root,
            config_paths: options.config_paths.clone(),
            module_dir: Some(dir.clone()),
            kernel_cmdline: options.kernel_cmdline.clone(),
        });
        let system: Box<dyn System> = match &options.kernel {
            Kernel::Host => Box::new(HostSystem::new(root.clone(), kernel_compression(&root).0)),
            Kernel::Fake { log } => {
                let mut fake = FakeSystem::new(root.clone(), log.clone());
                fake.run_commands = false;
                Box::new(fake)
            }
        };
        let ctx = Context::new(root, Some(dir)).with_config(loaded.config);
        Modules {
            stamps: index_stamps(&ctx),
            ctx,
            diagnostics: loaded.diagnostics,
            system,
            options,
        }
    }

    /// Replaces the kernel interface (for example with a [`System`] of
    /// the program's own, in its tests).
    pub fn with_system(mut self, system: Box<dyn System>) -> Modules {
        self.system = system;
        self
    }

    /// The lookup context underneath, for what this facade does not cover.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The module directory (a target path).
    pub fn module_dir(&self) -> &Path {
        self.ctx.dirname()
    }

    /// What reading the configuration complained about (bad lines), as
    /// libkmod logs it.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Whether depmod replaced, created or removed an index since this
    /// context was made: a few `stat` calls. Then [`Modules::reload`].
    ///
    /// ```
    /// # use modutils_core::{modules::Modules, sandbox::Sandbox, Root};
    /// let dir = tempfile::tempdir()?;
    /// let sandbox = Sandbox::new("6.1.0-test").module("a", &[]);
    /// sandbox.write(dir.path())?;
    /// let mut modules = Modules::new(Root::at(dir.path()), None);
    /// assert!(!modules.indexes_changed());
    ///
    /// sandbox.module("b", &[]).write(dir.path())?; // as a depmod run would
    /// assert!(modules.indexes_changed());
    /// modules.reload();
    /// assert!(!modules.indexes_changed());
    /// assert_eq!(modules.lookup("b")?[0].name, b"b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn indexes_changed(&self) -> bool {
        index_stamps(&self.ctx) != self.stamps
    }

    /// Reads the configuration again and drops the indexes read so far.
    pub fn reload(&mut self) {
        let fresh = Modules::open(self.options.clone());
        self.ctx = fresh.ctx;
        self.diagnostics = fresh.diagnostics;
        self.stamps = fresh.stamps;
    }

    /// The modules a name, alias or modalias resolves to, in modprobe's
    /// order of sources (configured aliases, the module itself, symbols,
    /// install commands, modules.alias, built-in modules). Empty when
    /// nothing matches.
    pub fn lookup(&self, name: impl AsRef<[u8]>) -> Result<Vec<Module>, Error> {
        let name = name.as_ref();
        self.ctx
            .lookup(name)
            .map_err(|_| Error::InvalidName(name.to_vec()))
    }

    /// The state of a module: [`InitState::Builtin`] for one compiled
    /// into the kernel, else what `/sys/module/<name>/initstate` says;
    /// `None` when it is not loaded.
    pub fn init_state(&mut self, name: impl AsRef<[u8]>) -> Result<Option<InitState>, Error> {
        let norm = name::modname_normalize(name.as_ref());
        if self.ctx.is_builtin(&norm) {
            return Ok(Some(InitState::Builtin));
        }
        match self.system.initstate(&norm) {
            Ok(state) => Ok(Some(state)),
            Err(e) if e.errno == libc::ENOENT => Ok(None),
            Err(e) => Err(Error::Sys(sysfs::Error::Io {
                path: sysfs::module_path(&norm, Some("initstate")),
                source: std::io::Error::from_raw_os_error(e.errno),
            })),
        }
    }

    /// Loads every module `name` resolves to, with dependencies and soft
    /// dependencies, as `modprobe` does. Unless `opts.blacklist` says
    /// otherwise, a blacklisted module found through an alias is not
    /// loaded ([`Probed::Blacklisted`]); udev asks for
    /// [`BlacklistMode::Always`](crate::probe::BlacklistMode::Always), as libkmod's `KMOD_PROBE_APPLY_BLACKLIST`.
    /// Each module's own result is in the list; the call fails only when
    /// nothing matches.
    ///
    /// ```
    /// # use modutils_core::modules::{Kernel, Modules, Options};
    /// # use modutils_core::probe::{BlacklistMode, ProbeOptions, Probed};
    /// # use modutils_core::{sandbox::Sandbox, Root};
    /// let dir = tempfile::tempdir()?;
    /// Sandbox::new("6.1.0-test")
    ///     .module("snd_pcm", &["snd"])
    ///     .module("snd", &[])
    ///     .alias("sound-pcm", "snd_pcm")
    ///     .config("blacklist snd_pcm\n")
    ///     .write(dir.path())?;
    /// let mut modules = Modules::open(Options {
    ///     kernel: Kernel::Fake { log: None },
    ///     ..Options::new(Root::at(dir.path()))
    /// });
    /// let udev = ProbeOptions { blacklist: BlacklistMode::Always, ..Default::default() };
    /// assert_eq!(modules.probe("sound-pcm", &udev)?[0].result, Ok(Probed::Blacklisted));
    ///
    /// let by_hand = ProbeOptions { blacklist: BlacklistMode::Ignore, ..Default::default() };
    /// let done = modules.probe("snd_pcm", &by_hand)?;
    /// assert_eq!(done[0].actions.len(), 2); // snd first, then snd_pcm
    /// assert!(done[0].actions[0].starts_with(b"insmod /lib/modules/6.1.0-test/kernel/snd.ko"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn probe(
        &mut self,
        name: impl AsRef<[u8]>,
        opts: &ProbeOptions,
    ) -> Result<Vec<ProbeResult>, Error> {
        self.probe_params(name, opts, None)
    }

    /// [`Modules::probe`] with module parameters (`key=value …`) for the
    /// module asked for, after those of the configuration.
    pub fn probe_params(
        &mut self,
        name: impl AsRef<[u8]>,
        opts: &ProbeOptions,
        params: Option<&[u8]>,
    ) -> Result<Vec<ProbeResult>, Error> {
        let name = name.as_ref();
        let count = self.lookup(name)?.len();
        if count == 0 {
            return Err(Error::NotFound {
                name: name.to_vec(),
                dir: self.ctx.dirname().to_path_buf(),
            });
        }
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            // One engine per module, so that each result has its own
            // actions and messages; the lookup gives the same list again.
            let mut rec = Recorded::default();
            let mut engine = Engine::new(&self.ctx, self.system.as_mut(), &mut rec);
            let ids = engine
                .lookup(name)
                .map_err(|_| Error::InvalidName(name.to_vec()))?;
            let Some(&id) = ids.get(i) else { break };
            let result = engine.probe(id, opts, params);
            let module = engine.name(id).to_vec();
            drop(engine);
            out.push(ProbeResult {
                module,
                result,
                actions: rec
                    .shown
                    .into_iter()
                    .map(|mut line| {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        line
                    })
                    .collect(),
                messages: rec.messages,
            });
        }
        Ok(out)
    }

    /// Loads `name` like [`Modules::probe`], sending the actions and
    /// messages to `report` as they happen (what modprobe prints); the
    /// results' `actions` and `messages` are then empty.
    pub fn probe_with(
        &mut self,
        name: impl AsRef<[u8]>,
        opts: &ProbeOptions,
        report: &mut dyn Report,
    ) -> Result<Vec<ProbeResult>, Error> {
        let mut engine = Engine::new(&self.ctx, self.system.as_mut(), report);
        let ids = resolve(&mut engine, name.as_ref(), self.ctx.dirname())?;
        Ok(ids
            .into_iter()
            .map(|id| ProbeResult {
                result: engine.probe(id, opts, None),
                module: engine.name(id).to_vec(),
                actions: Vec::new(),
                messages: Vec::new(),
            })
            .collect())
    }

    /// Removes every module `name` resolves to as `modprobe -r` does: its
    /// remove command if one is configured, else the module, then the
    /// dependencies it leaves unused.
    pub fn remove(&mut self, name: impl AsRef<[u8]>, opts: &RemoveOptions) -> Result<(), Error> {
        let mut rec = Recorded::default();
        let mut engine = Engine::new(&self.ctx, self.system.as_mut(), &mut rec);
        let ids = resolve(&mut engine, name.as_ref(), self.ctx.dirname())?;
        for id in ids {
            if let Err(errno) = engine.remove(id, opts) {
                let module = engine.name(id).to_vec();
                drop(engine);
                return Err(Error::Remove {
                    module,
                    errno,
                    messages: rec.messages,
                });
            }
        }
        Ok(())
    }

    /// The loaded modules in `/proc/modules` order (newest first), each
    /// with its size, use count and holders, as lsmod reads them.
    ///
    /// ```
    /// # use modutils_core::{modules::Modules, sandbox::Sandbox, Root};
    /// let dir = tempfile::tempdir()?;
    /// Sandbox::new("6.1.0-test")
    ///     .loaded("videodev", &[])
    ///     .loaded("mc", &["videodev"])
    ///     .write(dir.path())?;
    /// let modules = Modules::new(Root::at(dir.path()), None);
    /// let loaded = modules.loaded()?;
    /// assert_eq!(loaded[0].name, "mc");
    /// assert_eq!(loaded[0].holders, ["videodev"]);
    /// assert_eq!(loaded[0].use_count, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loaded(&self) -> Result<Vec<Loaded>, Error> {
        let root = self.ctx.root();
        let mut out = Vec::new();
        for raw in loaded::names(root)? {
            let listing = loaded::read(root, &raw);
            let holders = match listing.holders {
                Ok(h) => h,
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            out.push(Loaded {
                name: listing.name,
                size: listing.size.ok().and_then(|v| u64::try_from(v).ok()),
                use_count: listing.use_count.ok(),
                holders,
            });
        }
        Ok(out)
    }
}

/// The modules `name` resolves to, at least one: [`Error::NotFound`]
/// naming the module directory otherwise.
fn resolve(engine: &mut Engine<'_>, name: &[u8], dir: &Path) -> Result<Vec<ModId>, Error> {
    let ids = engine
        .lookup(name)
        .map_err(|_| Error::InvalidName(name.to_vec()))?;
    if ids.is_empty() {
        return Err(Error::NotFound {
            name: name.to_vec(),
            dir: dir.to_path_buf(),
        });
    }
    Ok(ids)
}

/// What identifies one version of a file: a rewritten index (depmod writes
/// a new file and renames it over the old one) changes at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        })
    }
}

fn index_stamps(ctx: &Context) -> [Option<Stamp>; 5] {
    IndexKind::ALL.map(|k| Stamp::of(&ctx.root().host(ctx.dirname().join(k.file_name()))))
}
