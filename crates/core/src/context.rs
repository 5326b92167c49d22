//! The index half of libkmod's `kmod_ctx`: a [`Context`] for one module
//! directory resolves names and aliases to modules through the indexes
//! depmod wrote, opening each index once, on first use. The tools and
//! [`probe`](crate::probe) use it directly; the library for other programs,
//! [`Modules`](crate::modules::Modules), wraps one together with the
//! configuration and a kernel.

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::config::modprobe::ModprobeConfig;
use crate::index::{Index, IndexError};
use crate::modinfo::{self, Field};
use crate::name;
use crate::root::Root;

/// What separates the dependencies in a modules.dep value (libkmod's
/// `strtok` delimiters).
const DEP_SEPARATORS: &[u8] = b" \t";

/// The index files a context reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// `modules.dep.bin`: each module's path and the paths of the modules it needs.
    Dep,
    /// `modules.alias.bin`: modalias patterns and the modules that match them.
    Alias,
    /// `modules.symbols.bin`: exported symbols (as `symbol:NAME`) and the modules exporting them.
    Symbols,
    /// `modules.builtin.bin`: the modules compiled into the kernel image.
    Builtin,
    /// `modules.builtin.alias.bin`: the aliases of built-in modules.
    BuiltinAlias,
}

impl IndexKind {
    /// Every index, in the order this context keeps them.
    pub const ALL: [IndexKind; 5] = [
        IndexKind::Dep,
        IndexKind::Alias,
        IndexKind::Symbols,
        IndexKind::Builtin,
        IndexKind::BuiltinAlias,
    ];

    /// The index's file name in the module directory.
    pub fn file_name(self) -> &'static str {
        match self {
            IndexKind::Dep => "modules.dep.bin",
            IndexKind::Alias => "modules.alias.bin",
            IndexKind::Symbols => "modules.symbols.bin",
            IndexKind::Builtin => "modules.builtin.bin",
            IndexKind::BuiltinAlias => "modules.builtin.alias.bin",
        }
    }
}

/// A module as found by a lookup. Names are bytes, as kmod keeps them:
/// modprobe.d and the indexes may hold any byte but NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Normalised name (`-` → `_`).
    pub name: Vec<u8>,
    /// The alias or pattern it was found through, if any.
    pub alias: Option<Vec<u8>>,
    /// Absolute target path of its file; `None` for built-in modules and
    /// for names no index knows a file for.
    pub path: Option<PathBuf>,
    /// Compiled into the kernel.
    pub builtin: bool,
    /// Its dependencies from modules.dep (target paths, in file order), if known.
    pub deps: Option<Vec<PathBuf>>,
}

/// Why a lookup could not be done at all (as opposed to finding nothing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name has unbalanced brackets, so no pattern can match it.
    #[error("invalid module name or alias: {}", String::from_utf8_lossy(.0))]
    InvalidName(Vec<u8>),
}

/// A context for one module directory, with the modprobe.d configuration
/// used for lookups. Indexes are opened on first use and kept.
pub struct Context {
    root: Root,
    dirname: PathBuf,
    config: ModprobeConfig,
    indexes: [OnceCell<Option<Index>>; 5],
}

impl Context {
    /// A context for `dirname` (a target path), by default
    /// `/lib/modules/<running kernel>`.
    pub fn new(root: Root, dirname: Option<PathBuf>) -> Context {
        let dirname = dirname.unwrap_or_else(|| root.module_dir(None, None));
        Context {
            root,
            dirname,
            config: ModprobeConfig::default(),
            indexes: Default::default(),
        }
    }

    /// The name of every module modules.dep.bin knows a file for, in the
    /// index's (byte) order. Empty when the index is missing or unreadable.
    pub fn module_names(&self) -> Vec<Vec<u8>> {
        self.index_keys(IndexKind::Dep)
    }

    /// The modules compiled into the kernel (modules.builtin.bin), in
    /// byte order.
    pub fn builtin_names(&self) -> Vec<Vec<u8>> {
        self.index_keys(IndexKind::Builtin)
    }

    fn index_keys(&self, kind: IndexKind) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        if let Some(index) = self.index(kind) {
            let _ = index.for_each_raw(|key, _, _| {
                if keys.last().map(Vec::as_slice) != Some(key) {
                    keys.push(key.to_vec());
                }
            });
        }
        keys
    }

    /// Uses `config` (modprobe.d, the kernel command line) for lookups.
    pub fn with_config(mut self, config: ModprobeConfig) -> Context {
        self.config = config;
        self
    }

    /// The modprobe.d configuration used for lookups.
    pub fn config(&self) -> &ModprobeConfig {
        &self.config
    }

    /// The root the module directory and configuration are read under.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The module directory, as a target path.
    pub fn dirname(&self) -> &Path {
        &self.dirname
    }

    /// The index of `kind`, opened now if it is not open yet; `None` when
    /// it cannot be opened (missing, unreadable, not an index).
    pub fn index(&self, kind: IndexKind) -> Option<&Index> {
        self.indexes[Self::slot(kind)]
            .get_or_init(|| Index::open(self.root.host(self.dirname.join(kind.file_name()))).ok())
            .as_ref()
    }

    /// Opens every index now and keeps it (libkmod's
    /// `kmod_load_resources`): modules.dep, .alias, .symbols,
    /// .builtin.alias and .builtin, in that order. A missing or bad
    /// modules.builtin.alias.bin is tolerated (older depmods wrote none);
    /// any other failure closes every index and is returned.
    pub fn load_indexes(&mut self) -> Result<(), IndexError> {
        self.load_indexes_reporting(&mut |_| {})
    }

    /// [`Context::load_indexes`], telling `tolerated` about a bad
    /// modules.builtin.alias.bin it goes on without (libkmod logs it).
    pub fn load_indexes_reporting(
        &mut self,
        tolerated: &mut dyn FnMut(&IndexError),
    ) -> Result<(), IndexError> {
        const ORDER: [IndexKind; 5] = [
            IndexKind::Dep,
            IndexKind::Alias,
            IndexKind::Symbols,
            IndexKind::BuiltinAlias,
            IndexKind::Builtin,
        ];
        for kind in ORDER {
            let slot = Self::slot(kind);
            if matches!(self.indexes[slot].get(), Some(Some(_))) {
                continue;
            }
            let path = self.root.host(self.dirname.join(kind.file_name()));
            match Index::open(path) {
                Ok(index) => self.indexes[slot] = OnceCell::from(Some(index)),
                Err(e) if kind == IndexKind::BuiltinAlias => tolerated(&e),
                Err(e) => {
                    self.unload_indexes();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Closes every index; the next query opens what it needs again.
    pub fn unload_indexes(&mut self) {
        self.indexes = Default::default();
    }

    fn slot(kind: IndexKind) -> usize {
        IndexKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
    }

    /// A module given by its file path (a relative path is taken from the
    /// working directory and shown made absolute, as kmod does; see
    /// [`Root::target_path`] for a relocated root).
    pub fn module_from_path(&self, path: &Path) -> std::io::Result<Module> {
        let abs = self.root.target_path(path)?;
        std::fs::metadata(self.root.host(&abs))?;
        let name = name::modname_from_path_bytes(abs.as_os_str().as_bytes());
        let deps = self
            .dep_line(&name)
            .and_then(|(p, deps)| (p == abs).then_some(deps));
        Ok(Module {
            name,
            alias: None,
            path: Some(abs),
            builtin: false,
            deps,
        })
    }

    /// modules.dep's entry for `name`: the module path and its dependencies.
    fn dep_line(&self, name: &[u8]) -> Option<(PathBuf, Vec<PathBuf>)> {
        let line = self.index(IndexKind::Dep)?.lookup(name).ok()??;
        let colon = line.iter().position(|&c| c == b':')?;
        let deps = line[colon + 1..]
            .split(|c| DEP_SEPARATORS.contains(c))
            .filter(|d| !d.is_empty())
            .map(|d| self.module_path(d))
            .collect();
        Some((self.module_path(&line[..colon]), deps))
    }

    /// Paths in modules.dep are relative to the module directory unless
    /// absolute. Joined as bytes with one `/`, as kmod does, so a dirname
    /// ending in `/` shows as `//` exactly like kmod prints it.
    fn module_path(&self, p: &[u8]) -> PathBuf {
        if p.starts_with(b"/") {
            PathBuf::from(OsStr::from_bytes(p))
        } else {
            let dir = self.dirname.as_os_str();
            let mut joined = std::ffi::OsString::with_capacity(dir.len() + 1 + p.len());
            joined.push(dir);
            joined.push("/");
            joined.push(OsStr::from_bytes(p));
            PathBuf::from(joined)
        }
    }

    /// modules.dep's entry for the module called `name`: its path and its
    /// dependencies (in file order: direct users first, deepest last).
    pub fn dependencies(&self, name: &[u8]) -> Option<(PathBuf, Vec<PathBuf>)> {
        self.dep_line(name)
    }

    /// Whether modules.builtin.bin lists `name` (compiled into the kernel).
    pub fn is_builtin(&self, name: &[u8]) -> bool {
        self.lookup_builtin(name).is_some()
    }

    fn module_named(&self, name: &[u8], alias: Option<&[u8]>) -> Module {
        let (path, deps) = match self.dep_line(name) {
            Some((p, d)) => (Some(p), Some(d)),
            None => (None, None),
        };
        Module {
            name: name.to_vec(),
            alias: alias.map(<[u8]>::to_vec),
            path,
            builtin: false,
            deps,
        }
    }

    fn builtin(&self, name: &[u8], alias: Option<&[u8]>) -> Module {
        Module {
            name: name.to_vec(),
            alias: alias.map(<[u8]>::to_vec),
            path: None,
            builtin: true,
            deps: None,
        }
    }

    fn lookup_config_alias(&self, alias: &[u8]) -> Vec<Module> {
        self.config
            .aliases_matching(alias)
            .map(|a| self.module_named(&a.modname, Some(&a.pattern)))
            .collect()
    }

    fn lookup_command(&self, name: &[u8]) -> Option<Module> {
        let known =
            self.config.install_exact(name).is_some() || self.config.remove_exact(name).is_some();
        known.then(|| self.module_named(name, None))
    }

    fn lookup_dep(&self, name: &[u8]) -> Option<Module> {
        let (path, deps) = self.dep_line(name)?;
        Some(Module {
            name: name.to_vec(),
            alias: None,
            path: Some(path),
            builtin: false,
            deps: Some(deps),
        })
    }

    fn lookup_wild(&self, kind: IndexKind, key: &[u8]) -> Vec<Vec<u8>> {
        match self.index(kind).map(|i| i.lookup_wild(key)) {
            Some(Ok(values)) => values.into_iter().map(|v| v.value).collect(),
            _ => Vec::new(),
        }
    }

    fn lookup_builtin(&self, name: &[u8]) -> Option<Module> {
        let found = self.index(IndexKind::Builtin)?.lookup(name).ok()?;
        found.map(|_| self.builtin(name, None))
    }

    fn lookup_builtin_alias(&self, alias: &[u8]) -> Vec<Module> {
        self.lookup_wild(IndexKind::BuiltinAlias, alias)
            .iter()
            .map(|m| self.builtin(m, Some(alias)))
            .collect()
    }

    /// Resolves a name or alias in kmod's order: configured aliases, the
    /// module itself, `symbol:` names, install/remove commands, modalias
    /// patterns, then built-in modules and their aliases. The first source
    /// that knows it wins.
    pub fn lookup(&self, alias: impl AsRef<[u8]>) -> Result<Vec<Module>, LookupError> {
        let alias = normalize(alias.as_ref())?;
        let found = self.lookup_config_alias(&alias);
        if !found.is_empty() {
            return Ok(found);
        }
        if !alias.contains(&b':') {
            if let Some(m) = self.lookup_dep(&alias) {
                return Ok(vec![m]);
            }
        }
        if alias.starts_with(b"symbol:") {
            let found = self.lookup_wild(IndexKind::Symbols, &alias);
            if !found.is_empty() {
                return Ok(found
                    .iter()
                    .map(|m| self.module_named(m, Some(&alias)))
                    .collect());
            }
        }
        if let Some(m) = self.lookup_command(&alias) {
            return Ok(vec![m]);
        }
        let found = self.lookup_wild(IndexKind::Alias, &alias);
        if !found.is_empty() {
            return Ok(found
                .iter()
                .map(|m| self.module_named(m, Some(&alias)))
                .collect());
        }
        if let Some(m) = self.lookup_builtin(&alias) {
            return Ok(vec![m]);
        }
        Ok(self.lookup_builtin_alias(&alias))
    }

    /// Resolves a module name only (modinfo `-m`): the module itself, a
    /// built-in module, or a built-in alias.
    pub fn lookup_name(&self, name: impl AsRef<[u8]>) -> Result<Option<Module>, LookupError> {
        let name = normalize(name.as_ref())?;
        if let Some(m) = self.lookup_dep(&name) {
            return Ok(Some(m));
        }
        if let Some(m) = self.lookup_builtin(&name) {
            return Ok(Some(m));
        }
        Ok(self.lookup_builtin_alias(&name).into_iter().next())
    }

    /// A built-in module's fields from `modules.builtin.modinfo`; the error
    /// is an errno (ENOENT when the file is missing).
    pub fn builtin_fields(&self, name: &[u8]) -> Result<Vec<Field>, i32> {
        let path = self.root.host(self.dirname.join("modules.builtin.modinfo"));
        let blob = std::fs::read(path).map_err(|e| crate::diagnostics::errno_of(&e))?;
        modinfo::builtin_fields(&blob, name).map_err(|_| libc::EINVAL)
    }
}

/// `-` becomes `_` outside bracket expressions; unbalanced brackets make the
/// name invalid, so nothing can be found for it.
fn normalize(alias: &[u8]) -> Result<Vec<u8>, LookupError> {
    name::alias_normalize(alias).map_err(|_| LookupError::InvalidName(alias.to_vec()))
}
