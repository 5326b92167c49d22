//! Loading and unloading: `kmod_module_insert_module`,
//! `kmod_module_remove_module` and `kmod_module_probe_insert_module`.
//!
//! The load list (dependencies, soft dependencies, which install commands
//! apply) is the core's plan, the same walk modprobe runs. What is here
//! is libkmod's contract around it: the flags, the blacklist codes, the
//! client's callbacks, and which errors stop the load.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::PathBuf;
use std::ptr;

use modutils_core::context::Module as Found;
use modutils_core::diagnostics::{Level, Sink};
use modutils_core::kernel::Force;
use modutils_core::probe::{expand_cmdline_opts, Action, DependencySource, Engine, Report};

use crate::ctx::Ctx;
use crate::ffi::{arg, guard};
use crate::log::{log, LOG_ERR, LOG_INFO};
use crate::module::{get_or_create, module_ref, release, Module};
use modutils_core::diagnostics::strerror;

const FORCE_VERMAGIC: u32 = 0x1;
const FORCE_MODVERSION: u32 = 0x2;
const IGNORE_COMMAND: u32 = 0x4;
const IGNORE_LOADED: u32 = 0x8;
const DRY_RUN: u32 = 0x10;
const FAIL_ON_LOADED: u32 = 0x20;
const APPLY_BLACKLIST_ALL: u32 = 0x10000;
const APPLY_BLACKLIST: u32 = 0x20000;
const APPLY_BLACKLIST_ALIAS_ONLY: u32 = 0x40000;

const REMOVE_NOLOG: u32 = 1;

type RunInstall = unsafe extern "C" fn(*mut Module, *const c_char, *mut c_void) -> c_int;
type PrintAction = unsafe extern "C" fn(*mut Module, bool, *const c_char);

fn force_of(flags: u32) -> Force {
    Force {
        vermagic: flags & FORCE_VERMAGIC != 0,
        modversion: flags & FORCE_MODVERSION != 0,
    }
}

impl Module {
    /// Inserts the module's file with `options`; 0 or -errno.
    fn insert(&self, flags: u32, options: &[u8]) -> c_int {
        let ctx = self.ctx();
        let Some(path) = self.path().and_then(|_| self.path_buf()) else {
            log!(
                ctx,
                LOG_ERR,
                "kmod_module_insert_module",
                "could not find module by name='{}'\n",
                self.name_lossy()
            );
            return -libc::ENOENT;
        };
        let result = ctx
            .system
            .borrow_mut()
            .insert(&path, options, force_of(flags));
        match result {
            Ok(_) => 0,
            Err(e) => {
                if e.from_kernel {
                    log!(
                        ctx,
                        LOG_INFO,
                        "kmod_module_insert_module",
                        "Failed to insert module '{}': {}\n",
                        path.display(),
                        strerror(e.errno)
                    );
                }
                -e.errno
            }
        }
    }

    fn in_kernel(&self) -> bool {
        matches!(self.initstate(), 0 | 1)
    }

    fn is_blacklisted(&self) -> bool {
        self.ctx().config().is_blacklisted(self.name_bytes())
    }
}

pub(crate) unsafe extern "C" fn kmod_module_insert_module(
    m: *mut Module,
    flags: u32,
    options: *const c_char,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live / a C string.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return -libc::ENOENT;
        };
        // SAFETY: NULL or a C string.
        let options = unsafe { arg(options) }.unwrap_or_default();
        module.insert(flags, options)
    })
}

pub(crate) unsafe extern "C" fn kmod_module_remove_module(m: *mut Module, flags: u32) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(module) = (unsafe { module_ref(m) }) else {
            return -libc::ENOENT;
        };
        let ctx = module.ctx();
        let force = flags & libc::O_TRUNC as u32 != 0;
        let result = ctx.system.borrow_mut().remove(module.name_bytes(), force);
        match result {
            Ok(()) => 0,
            Err(errno) => {
                if flags & REMOVE_NOLOG == 0 {
                    log!(
                        ctx,
                        LOG_ERR,
                        "kmod_module_remove_module",
                        "could not remove '{}': {}\n",
                        module.name_lossy(),
                        strerror(errno)
                    );
                }
                -errno
            }
        }
    })
}

/// Sends what the core's planning logs to the context's logger.
struct PlanLog<'a>(&'a Ctx);

impl Sink for PlanLog<'_> {
    fn log(&mut self, level: Level, message: &[u8]) {
        self.log_from("kmod_module_probe_insert_module", level, message);
    }

    fn log_from(&mut self, function: &'static str, level: Level, message: &[u8]) {
        let message = String::from_utf8_lossy(message);
        log!(self.0, level as i32, function, "{message}\n");
    }
}

impl Report for PlanLog<'_> {
    fn show(&mut self, _action: Action<'_>) {}

    fn fatal(&mut self, message: &[u8]) {
        self.log(Level::Err, message);
    }
}

/// The plan's dependencies are what the context's module objects know:
/// a modules.dep line whose dependency file is missing gives none (and
/// is logged again, as each query parses it again). The objects it makes
/// are kept until the load list is made of them, as what they learnt
/// (a failed line, a path) is part of their state.
struct ObjectDependencies<'a> {
    ctx: &'a Ctx,
    kept: Vec<*mut Module>,
}

impl DependencySource for ObjectDependencies<'_> {
    fn dependencies(
        &mut self,
        name: &[u8],
        alias: Option<&[u8]>,
    ) -> Option<(PathBuf, Vec<PathBuf>)> {
        let m = get_or_create(self.ctx, name, alias);
        self.kept.push(m);
        // SAFETY: just made or found, with the reference kept above.
        let module = unsafe { &*m };
        let deps = module.dependencies();
        // Objects keep them deepest first; the line's order is the reverse.
        let paths = deps
            .iter()
            .rev()
            // SAFETY: each holds the reference dependencies() gave us.
            .filter_map(|&d| unsafe { (*d).path_buf() })
            .collect();
        for d in deps {
            // SAFETY: drops the references dependencies() gave.
            unsafe { release(d) };
        }
        module.path_buf().map(|p| (p, paths))
    }

    fn found(&mut self, found: &Found, from_commands: bool) {
        let m = crate::lookup::adopt(self.ctx, found.clone(), from_commands);
        self.kept.push(m);
    }
}

/// One planned entry as the core names it: name, alias, whether to
/// ignore its command, whether it is required.
type Named = (Vec<u8>, Option<Vec<u8>>, bool, bool);

/// One entry of the load list, as a module object of the context.
struct Step {
    module: *mut Module,
    ignore_command: bool,
    required: bool,
}

/// The load list of `target`, each entry holding a reference.
fn plan(target: &Module, ignore_command: bool) -> Vec<Step> {
    let ctx = target.ctx();
    let mut deps = ObjectDependencies {
        ctx,
        kept: Vec::new(),
    };
    let named: Vec<Named> = ctx.with_core(|core| {
        let mut system = ctx.system.borrow_mut();
        let mut report = PlanLog(ctx);
        let mut engine =
            Engine::new(core, system.as_mut(), &mut report).with_dependency_source(&mut deps);
        let id = engine.adopt(
            Found {
                name: target.name_bytes().to_vec(),
                alias: target.alias.as_deref().map(<[u8]>::to_vec),
                path: target.path_buf(),
                builtin: target.builtin.get() == Some(true),
                deps: None,
            },
            target.builtin.get(),
            target.from_commands.get(),
        );
        engine
            .plan(id, ignore_command)
            .into_iter()
            .map(|s| {
                let alias = engine.alias(s.module).map(<[u8]>::to_vec);
                (
                    engine.name(s.module).to_vec(),
                    alias,
                    s.ignore_command,
                    s.required,
                )
            })
            .collect()
    });
    let steps = named
        .into_iter()
        .map(|(name, alias, ignore_command, required)| {
            let module =
                if name == target.name_bytes() && alias.as_deref() == target.alias.as_deref() {
                    target.add_ref();
                    (target as *const Module).cast_mut()
                } else {
                    get_or_create(ctx, &name, alias.as_deref())
                };
            Step {
                module,
                ignore_command,
                required,
            }
        })
        .collect();
    for m in deps.kept {
        // SAFETY: the references the planning took.
        unsafe { release(m) };
    }
    steps
}

/// libkmod's joining: configured options, a space, the extra ones.
fn concat_options(configured: Option<&CStr>, extra: Option<&[u8]>) -> Vec<u8> {
    match (configured.map(CStr::to_bytes), extra) {
        (None | Some(b""), None | Some(b"")) => Vec::new(),
        (None | Some(b""), Some(x)) => x.to_vec(),
        (Some(o), x) => {
            let mut v = o.to_vec();
            v.push(b' ');
            v.extend_from_slice(x.unwrap_or_default());
            v
        }
    }
}

/// An install command through the shell (no client callback): any
/// failure is -EINVAL.
fn run_command(m: &Module, cmd: &[u8]) -> c_int {
    let ctx = m.ctx();
    let name = m.name_lossy();
    let shown = String::from_utf8_lossy(cmd);
    let status = ctx.system.borrow_mut().run(cmd, m.name_bytes());
    match status {
        Err(errno) => {
            log!(
                ctx,
                LOG_ERR,
                "command_do",
                "Could not run install command '{shown}' for module {name}: {}\n",
                strerror(errno)
            );
            -libc::EINVAL
        }
        Ok(status) if libc::WEXITSTATUS(status) != 0 => {
            log!(
                ctx,
                LOG_ERR,
                "command_do",
                "Error running install command '{shown}' for module {name}: retcode {}\n",
                libc::WEXITSTATUS(status)
            );
            -libc::EINVAL
        }
        Ok(_) => 0,
    }
}

pub(crate) unsafe extern "C" fn kmod_module_probe_insert_module(
    m: *mut Module,
    flags: u32,
    extra_options: *const c_char,
    run_install: Option<RunInstall>,
    data: *const c_void,
    print_action: Option<PrintAction>,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(target) = (unsafe { module_ref(m) }) else {
            return -libc::ENOENT;
        };
        // SAFETY: NULL or a C string.
        let extra = unsafe { arg(extra_options) };
        if flags & IGNORE_LOADED == 0 && target.in_kernel() {
            return if flags & FAIL_ON_LOADED != 0 {
                -libc::EEXIST
            } else {
                0
            };
        }
        let reason = if target.alias.is_some() && flags & APPLY_BLACKLIST_ALIAS_ONLY != 0 {
            APPLY_BLACKLIST_ALIAS_ONLY
        } else if flags & APPLY_BLACKLIST_ALL != 0 {
            APPLY_BLACKLIST_ALL
        } else {
            flags & APPLY_BLACKLIST
        };
        if reason != 0 && target.is_blacklisted() {
            return reason as c_int;
        }
        let mut steps = plan(target, flags & IGNORE_COMMAND != 0);
        if flags & APPLY_BLACKLIST_ALL != 0 {
            steps.retain(|s| {
                // SAFETY: each step holds a reference.
                let module = unsafe { &*s.module };
                let keep = !module.is_blacklisted();
                if !keep {
                    // SAFETY: drops the step's reference.
                    unsafe { release(s.module) };
                }
                keep
            });
            if steps.is_empty() {
                return APPLY_BLACKLIST_ALL as c_int;
            }
        }
        let err = run_steps(
            target,
            &steps,
            flags,
            extra,
            run_install,
            data,
            print_action,
        );
        for s in steps {
            // SAFETY: drops the step's reference.
            unsafe { release(s.module) };
        }
        err
    })
}

fn run_steps(
    target: &Module,
    steps: &[Step],
    flags: u32,
    extra: Option<&[u8]>,
    run_install: Option<RunInstall>,
    data: *const c_void,
    print_action: Option<PrintAction>,
) -> c_int {
    let mut err: c_int = 0;
    for step in steps {
        // SAFETY: each step holds a reference.
        let m = unsafe { &*step.module };
        let is_target = ptr::eq(m, target);
        err = if flags & IGNORE_LOADED == 0 && m.in_kernel() {
            -libc::EEXIST
        } else {
            let options = crate::ffi::c_string(&concat_options(
                m.options_cstr(),
                if is_target { extra } else { None },
            ));
            let cmd = m.install_command();
            if !cmd.is_null() && !step.ignore_command {
                if let Some(print) = print_action {
                    // SAFETY: the client's callback with valid arguments.
                    unsafe { print(step.module, true, options.as_ptr()) };
                }
                if flags & DRY_RUN != 0 {
                    0
                } else {
                    // SAFETY: a string of the context's configuration.
                    let command = unsafe { CStr::from_ptr(cmd) }.to_bytes();
                    let expanded =
                        crate::ffi::c_string(&expand_cmdline_opts(command, options.to_bytes()));
                    match run_install {
                        // SAFETY: the client's callback with its own data.
                        Some(run) => unsafe {
                            run(step.module, expanded.as_ptr(), data.cast_mut())
                        },
                        None => run_command(m, expanded.to_bytes()),
                    }
                }
            } else {
                if let Some(print) = print_action {
                    // SAFETY: the client's callback with valid arguments.
                    unsafe { print(step.module, false, options.as_ptr()) };
                }
                if flags & DRY_RUN != 0 {
                    0
                } else {
                    m.insert(flags, options.to_bytes())
                }
            }
        };
        if err == -libc::EEXIST && is_target && flags & FAIL_ON_LOADED != 0 {
            break;
        }
        if err == -libc::EEXIST || !step.required {
            err = 0;
        } else if err < 0 {
            break;
        }
    }
    err
}
