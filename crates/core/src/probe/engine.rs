//! The engine and its module pool.
//!
//! libkmod keeps one object per module *name and alias*: `snd` found by
//! name and `snd` found through the alias `char-major-116-*` are two
//! objects, each with its own "visited" mark while a load list is built.
//! That identity is visible (it decides which duplicates `--show-depends`
//! prints), so the pool reproduces it: entries are keyed by (name, alias),
//! and state learnt about an entry (its path, its dependencies, whether it
//! is built in, an install command it was found through) stays with it.

use rustc_hash::FxHashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::system::{InitState, System};
use super::Report;
use crate::diagnostics::Level;
use std::os::unix::ffi::OsStrExt;

use crate::context::{Context, LookupError, Module};
use crate::name::{modname_from_path_bytes, modname_normalize};

/// A module in the engine's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModId(pub(crate) usize);

#[derive(Debug, Default)]
pub(crate) struct Entry {
    pub name: Vec<u8>,
    pub alias: Option<Vec<u8>>,
    pub path: Option<PathBuf>,
    /// Dependencies in kmod's order (modules.dep reversed: deepest first);
    /// `None` until looked up.
    pub deps: Option<Vec<ModId>>,
    /// `None`: ask modules.builtin.bin when it matters.
    pub builtin: Option<bool>,
    /// Set when the module was found through an install or remove command
    /// of that exact name: that command, not the first pattern match.
    pub install: Option<Vec<u8>>,
    pub remove: Option<Vec<u8>>,
    // Marks of the load-list walk (see plan.rs).
    pub visited: bool,
    pub required: bool,
    pub ignorecmd: bool,
}

/// Where a caller that keeps its own module objects (libkmod) gets a
/// module's modules.dep line from: its objects may know better than the
/// index, e.g. that a dependency file is missing, so the line gave none.
pub trait DependencySource {
    /// The module file and its dependency files in modules.dep order;
    /// `None` when there is no line.
    fn dependencies(
        &mut self,
        name: &[u8],
        alias: Option<&[u8]>,
    ) -> Option<(PathBuf, Vec<PathBuf>)>;

    /// A lookup found `m` (with the modules.dep line it read, and whether
    /// through an install/remove command): libkmod makes its object then.
    fn found(&mut self, m: &Module, from_commands: bool);
}

/// Resolves modules and runs the probe and remove algorithms.
pub struct Engine<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) sys: &'a mut dyn System,
    pub(crate) report: &'a mut dyn Report,
    pub(crate) entries: Vec<Entry>,
    /// Module names from the indexes and the configuration: no hostile
    /// keys to defend against, so no seeded hash (and no getrandom call).
    keys: FxHashMap<(Vec<u8>, Option<Vec<u8>>), ModId>,
    dep_source: Option<&'a mut dyn DependencySource>,
}

impl<'a> Engine<'a> {
    /// An engine resolving through `ctx`, acting on `sys` and reporting to `report`.
    pub fn new(ctx: &'a Context, sys: &'a mut dyn System, report: &'a mut dyn Report) -> Self {
        Engine {
            ctx,
            sys,
            report,
            entries: Vec::new(),
            keys: FxHashMap::default(),
            dep_source: None,
        }
    }

    /// Every module's dependencies come from `source` instead of the
    /// index (lookups' lines included).
    pub fn with_dependency_source(mut self, source: &'a mut dyn DependencySource) -> Self {
        self.dep_source = Some(source);
        self
    }

    /// The context names and aliases are resolved through.
    pub fn context(&self) -> &Context {
        self.ctx
    }

    pub(crate) fn e(&self, id: ModId) -> &Entry {
        &self.entries[id.0]
    }

    pub(crate) fn e_mut(&mut self, id: ModId) -> &mut Entry {
        &mut self.entries[id.0]
    }

    /// The entry for (name, alias), created empty if new.
    fn entry(&mut self, name: &[u8], alias: Option<&[u8]>) -> (ModId, bool) {
        let key = (name.to_vec(), alias.map(<[u8]>::to_vec));
        if let Some(&id) = self.keys.get(&key) {
            return (id, false);
        }
        let id = ModId(self.entries.len());
        self.entries.push(Entry {
            name: key.0.clone(),
            alias: key.1.clone(),
            ..Entry::default()
        });
        self.keys.insert(key, id);
        (id, true)
    }

    /// A module known by its file, as a dependency or a path given by the
    /// user: such a module is never built in, and keeps the first path seen.
    fn entry_for_path(&mut self, path: &Path) -> ModId {
        let name = modname_from_path_bytes(path.as_os_str().as_bytes());
        let (id, _) = self.entry(&name, None);
        let e = self.e_mut(id);
        if e.path.is_none() {
            e.path = Some(path.to_path_buf());
        }
        e.builtin = Some(false);
        id
    }

    fn intern(&mut self, m: Module, from_commands: bool) -> ModId {
        let (id, new) = self.entry(&m.name, m.alias.as_deref());
        if new {
            let deps = match self.dep_source {
                Some(_) => None,
                None => m.deps.map(|d| self.dep_entries(&d)),
            };
            let e = self.e_mut(id);
            e.path = m.path;
            e.deps = deps;
        }
        if m.builtin {
            self.e_mut(id).builtin = Some(true);
        }
        if from_commands {
            let config = self.ctx.config();
            if let Some(c) = config.install_exact(&m.name) {
                self.e_mut(id).install = Some(c.command.clone());
            } else if let Some(c) = config.remove_exact(&m.name) {
                self.e_mut(id).remove = Some(c.command.clone());
            }
        }
        id
    }

    /// Dependency paths (modules.dep order) as entries in kmod's order.
    fn dep_entries(&mut self, paths: &[PathBuf]) -> Vec<ModId> {
        paths.iter().rev().map(|p| self.entry_for_path(p)).collect()
    }

    /// Resolves a name or alias (the lookup chain of [`Context::lookup`]).
    pub fn lookup(&mut self, name: impl AsRef<[u8]>) -> Result<Vec<ModId>, LookupError> {
        let found = self.ctx.lookup(name)?;
        // Only the install/remove step yields a module with neither path,
        // alias nor built-in mark: every earlier step sets one of them.
        let from_commands = matches!(
            found.as_slice(),
            [m] if m.path.is_none() && m.alias.is_none() && !m.builtin
        );
        if let Some(source) = self.dep_source.as_deref_mut() {
            found.iter().for_each(|m| source.found(m, from_commands));
        }
        Ok(found
            .into_iter()
            .map(|m| self.intern(m, from_commands))
            .collect())
    }

    /// The entry for a module the caller already knows (libkmod's module
    /// objects live longer than one engine): what the caller learnt of it
    /// — its file, whether it is built in, that it was found through an
    /// install or remove command of its name — is kept, so the engine
    /// plans with the caller's view of the module.
    pub fn adopt(&mut self, m: Module, builtin: Option<bool>, from_commands: bool) -> ModId {
        let id = self.intern(m, from_commands);
        if builtin.is_some() {
            self.e_mut(id).builtin = builtin;
        }
        id
    }

    /// A module given by its file (`modprobe /path/m.ko`). Its
    /// dependencies still come from modules.dep, by its name.
    pub fn from_path(&mut self, path: &Path) -> io::Result<ModId> {
        let m = self.ctx.module_from_path(path)?;
        if m.name.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let abs = m.path.unwrap_or_else(|| path.to_path_buf());
        Ok(self.entry_for_path(&abs))
    }

    /// The module's name: bytes, as modprobe.d and the indexes spell it
    /// (normalised, `-` as `_`), not necessarily UTF-8.
    pub fn name(&self, id: ModId) -> &[u8] {
        &self.e(id).name
    }

    /// The alias (or config alias pattern) the module was found through.
    pub fn alias(&self, id: ModId) -> Option<&[u8]> {
        self.e(id).alias.as_deref()
    }

    /// The module file, once known (never for built-in modules).
    pub fn path(&mut self, id: ModId) -> Option<PathBuf> {
        self.dependencies(id);
        self.e(id).path.clone()
    }

    /// Dependencies in kmod's order: modules.dep's list reversed, so the
    /// deepest dependency comes first. Looked up once, by name.
    pub fn dependencies(&mut self, id: ModId) -> Vec<ModId> {
        if let Some(d) = &self.e(id).deps {
            return d.clone();
        }
        let line = match self.dep_source.as_deref_mut() {
            Some(source) => {
                let e = &self.entries[id.0];
                source.dependencies(&e.name, e.alias.as_deref())
            }
            None => self.ctx.dependencies(&self.e(id).name),
        };
        let Some((path, deps)) = line else {
            return Vec::new();
        };
        let deps = self.dep_entries(&deps);
        let e = self.e_mut(id);
        if e.path.is_none() {
            e.path = Some(path);
        }
        e.deps = Some(deps.clone());
        deps
    }

    /// Whether the module is compiled into the kernel, by `modules.builtin.bin`; the answer is
    /// kept.
    pub fn is_builtin(&mut self, id: ModId) -> bool {
        if let Some(b) = self.e(id).builtin {
            return b;
        }
        let b = self.ctx.is_builtin(&self.e(id).name);
        self.e_mut(id).builtin = Some(b);
        b
    }

    /// Built-in first, then `/sys/module`; `Err(errno)` when not loaded or
    /// unreadable (after logging what libkmod logs).
    pub fn initstate(&mut self, id: ModId) -> Result<InitState, i32> {
        if self.is_builtin(id) {
            return Ok(InitState::Builtin);
        }
        let name = self.e(id).name.clone();
        self.sys.initstate(&name).map_err(|e| {
            if let Some(msg) = &e.log {
                self.report.log(Level::Err, msg);
            }
            e.errno
        })
    }

    /// Loaded and initialised, or built in.
    pub fn in_kernel(&mut self, id: ModId) -> bool {
        matches!(self.initstate(id), Ok(InitState::Live | InitState::Builtin))
    }

    /// The use count; `Err(errno)` when unknown (not loaded, no unload
    /// support in the kernel), after logging a malformed file.
    pub fn refcnt(&mut self, id: ModId) -> Result<i64, i32> {
        let name = self.e(id).name.clone();
        self.sys.refcnt(&name).map_err(|e| {
            if let Some(msg) = &e.log {
                self.report.log(Level::Err, msg);
            }
            e.errno
        })
    }

    /// The modules using this one, in the kernel's order; none when the
    /// directory cannot be read (libkmod logs that as an error).
    pub fn holders(&mut self, id: ModId) -> Vec<ModId> {
        let name = self.e(id).name.clone();
        match self.sys.holders(&name) {
            Ok(names) => names
                .iter()
                .map(|n| self.entry(&modname_normalize(n), None).0)
                .collect(),
            Err(e) => {
                if let Some(msg) = &e.log {
                    self.report.log(Level::Err, msg);
                }
                Vec::new()
            }
        }
    }

    /// Whether a modprobe.d `blacklist` line names the module.
    pub fn is_blacklisted(&self, id: ModId) -> bool {
        self.ctx.config().is_blacklisted(&self.e(id).name)
    }

    /// Options from the configuration for the module's name or the alias it
    /// was found through.
    pub fn options(&self, id: ModId) -> Option<Vec<u8>> {
        let e = self.e(id);
        self.ctx.config().options_for(&e.name, e.alias.as_deref())
    }

    /// The command to run instead of loading the module: the one it was found through, else its
    /// `install` line.
    pub fn install_command(&self, id: ModId) -> Option<Vec<u8>> {
        let e = self.e(id);
        e.install.clone().or_else(|| {
            self.ctx
                .config()
                .install_command(&e.name)
                .map(<[u8]>::to_vec)
        })
    }

    /// The command to run instead of removing the module: the one it was found through, else its
    /// `remove` line.
    pub fn remove_command(&self, id: ModId) -> Option<Vec<u8>> {
        let e = self.e(id);
        e.remove.clone().or_else(|| {
            self.ctx
                .config()
                .remove_command(&e.name)
                .map(<[u8]>::to_vec)
        })
    }

    /// The module's soft dependencies (first matching `softdep` entry),
    /// each name resolved by the full lookup; names that are not found
    /// are dropped, invalid ones logged as libkmod does.
    pub fn softdeps(&mut self, id: ModId) -> (Vec<ModId>, Vec<ModId>) {
        let ctx = self.ctx;
        let Some(dep) = ctx.config().softdeps_for(&self.e(id).name) else {
            return (Vec::new(), Vec::new());
        };
        let pre: Vec<Vec<u8>> = dep.pre().map(<[u8]>::to_vec).collect();
        let post: Vec<Vec<u8>> = dep.post().map(<[u8]>::to_vec).collect();
        (self.resolve_all(&pre), self.resolve_all(&post))
    }

    fn resolve_all(&mut self, names: &[Vec<u8>]) -> Vec<ModId> {
        let mut out = Vec::new();
        for n in names {
            match self.lookup(n) {
                Ok(found) => out.extend(found),
                Err(_) => {
                    let msg = [
                        b"failed to lookup dependency '",
                        &n[..],
                        b"', continuing anyway.",
                    ];
                    self.report
                        .log_from("lookup_dep", Level::Err, &msg.concat());
                }
            }
        }
        out
    }
}
