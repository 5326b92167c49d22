//! A small fake system in a directory, for testing programs that use this
//! library (and for the examples in its documentation): a module
//! directory with the indexes depmod would write, modprobe.d
//! configuration, and loaded modules in `/proc/modules` and `/sys/module`.
//! Point a [`Root`](crate::Root) at it, and use the fake kernel
//! ([`Kernel::Fake`](crate::modules::Kernel::Fake)) to load and unload.
//!
//! Module files are text stand-ins (`depends=a,b`), which the fake kernel
//! understands; nothing here makes real ELF modules.
//!
//! ```
//! use modutils_core::sandbox::Sandbox;
//!
//! let dir = tempfile::tempdir()?;
//! Sandbox::new("6.1.0-test")
//!     .module("e1000", &[])
//!     .module("bttv", &["videodev", "tveeprom"])
//!     .module("videodev", &[])
//!     .module("tveeprom", &[])
//!     .alias("pci:v00008086d0000100Esv*sd*bc*sc*i*", "e1000")
//!     .builtin("ext4")
//!     .config("blacklist tveeprom\n")
//!     .loaded("videodev", &[])
//!     .write(dir.path())?;
//! assert!(dir.path().join("lib/modules/6.1.0-test/modules.dep.bin").exists());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs;
use std::io;
use std::path::Path;

use crate::index::IndexBuilder;

/// See the module documentation. Methods add to the description;
/// [`Sandbox::write`] creates the files.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    release: String,
    /// (name, direct dependencies), in order.
    modules: Vec<(String, Vec<String>)>,
    aliases: Vec<(String, String)>,
    builtin: Vec<String>,
    config: String,
    /// (name, holders), newest first as /proc/modules lists them.
    loaded: Vec<(String, Vec<String>)>,
}

impl Sandbox {
    /// A system running kernel `release` (its `/proc/sys/kernel/osrelease`).
    pub fn new(release: &str) -> Sandbox {
        Sandbox {
            release: release.to_string(),
            ..Sandbox::default()
        }
    }

    /// A module file `kernel/<name>.ko` that needs `deps` (module names;
    /// modules.dep gets the full closure, as depmod writes it).
    pub fn module(mut self, name: &str, deps: &[&str]) -> Sandbox {
        let deps = deps.iter().map(|d| d.to_string()).collect();
        self.modules.push((name.to_string(), deps));
        self
    }

    /// An alias pattern (modules.alias) for a module.
    pub fn alias(mut self, pattern: &str, module: &str) -> Sandbox {
        self.aliases.push((pattern.to_string(), module.to_string()));
        self
    }

    /// A module compiled into the kernel (modules.builtin).
    pub fn builtin(mut self, name: &str) -> Sandbox {
        self.builtin.push(name.to_string());
        self
    }

    /// Lines for `/etc/modprobe.d/sandbox.conf`.
    pub fn config(mut self, text: &str) -> Sandbox {
        self.config.push_str(text);
        self
    }

    /// A module already loaded, used by `holders`.
    pub fn loaded(mut self, name: &str, holders: &[&str]) -> Sandbox {
        let holders = holders.iter().map(|h| h.to_string()).collect();
        self.loaded.insert(0, (name.to_string(), holders));
        self
    }

    /// The module directory, as a target path.
    pub fn module_dir(&self) -> String {
        crate::root::module_dir("", &self.release)
            .to_string_lossy()
            .into_owned()
    }

    /// Writes the system under `dir` (which a [`Root`](crate::Root) then points at).
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        let put = |target: &str, bytes: &[u8]| -> io::Result<()> {
            let p = dir.join(target.trim_start_matches('/'));
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(p, bytes)
        };
        let invalid = |e: crate::index::BuildError| io::Error::new(io::ErrorKind::InvalidInput, e);
        let moddir = self.module_dir();
        put(
            "/proc/sys/kernel/osrelease",
            format!("{}\n", self.release).as_bytes(),
        )?;
        fs::create_dir_all(dir.join("sys/module"))?;

        let mut dep = IndexBuilder::new();
        let mut dep_text = String::new();
        for (i, (name, _)) in self.modules.iter().enumerate() {
            let closure = self.closure(name);
            let ko = |n: &str| format!("kernel/{n}.ko");
            let mut value = format!("{}:", ko(name));
            for d in &closure {
                value += &format!(" {}", ko(d));
            }
            dep.insert(name, &value, i as u32).map_err(invalid)?;
            dep_text += &value;
            dep_text.push('\n');
            let direct = &self.modules[i].1;
            put(
                &format!("{moddir}/{}", ko(name)),
                format!("name={name}\ndepends={}\n", direct.join(",")).as_bytes(),
            )?;
        }
        let mut alias = IndexBuilder::new();
        let mut alias_text = String::new();
        for (i, (pattern, m)) in self.aliases.iter().enumerate() {
            // Keyed as depmod keys them: `-` becomes `_` outside brackets.
            let key = crate::name::alias_normalize(pattern.as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, pattern.clone()))?;
            alias.insert(key, m, i as u32).map_err(invalid)?;
            alias_text += &format!("alias {pattern} {m}\n");
        }
        let mut builtin = IndexBuilder::new();
        let mut builtin_text = String::new();
        for name in &self.builtin {
            builtin.insert(name, "", 0).map_err(invalid)?;
            builtin_text += &format!("kernel/{name}.ko\n");
        }
        for (file, index) in [
            ("modules.dep.bin", &dep),
            ("modules.alias.bin", &alias),
            ("modules.builtin.bin", &builtin),
        ] {
            put(
                &format!("{moddir}/{file}"),
                &index.to_bytes().map_err(invalid)?,
            )?;
        }
        put(&format!("{moddir}/modules.dep"), dep_text.as_bytes())?;
        put(&format!("{moddir}/modules.alias"), alias_text.as_bytes())?;
        put(
            &format!("{moddir}/modules.builtin"),
            builtin_text.as_bytes(),
        )?;
        put("/etc/modprobe.d/sandbox.conf", self.config.as_bytes())?;
        put("/proc/cmdline", b"quiet\n")?;

        let mut proc_modules = String::new();
        for (name, holders) in &self.loaded {
            let users: String = holders.iter().map(|h| format!("{h},")).collect();
            let users = if users.is_empty() { "-".into() } else { users };
            proc_modules += &format!("{name} 16384 {} {users} Live 0x0\n", holders.len());
            let sys = format!("/sys/module/{name}");
            put(&format!("{sys}/initstate"), b"live\n")?;
            put(
                &format!("{sys}/refcnt"),
                format!("{}\n", holders.len()).as_bytes(),
            )?;
            put(&format!("{sys}/coresize"), b"16384\n")?;
            fs::create_dir_all(dir.join(format!("sys/module/{name}/holders")))?;
            for h in holders {
                fs::create_dir_all(dir.join(format!("sys/module/{name}/holders/{h}")))?;
            }
        }
        put("/proc/modules", proc_modules.as_bytes())
    }

    /// Every module `name` needs, directly or not, nearest first.
    fn closure(&self, name: &str) -> Vec<String> {
        let direct = |n: &str| {
            self.modules
                .iter()
                .find(|(m, _)| m == n)
                .map(|(_, d)| d.clone())
                .unwrap_or_default()
        };
        let mut out: Vec<String> = Vec::new();
        let mut todo = direct(name);
        while !todo.is_empty() {
            let d = todo.remove(0);
            if d != name && !out.contains(&d) {
                todo.extend(direct(&d));
                out.push(d);
            }
        }
        out
    }
}
