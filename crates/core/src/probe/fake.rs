//! A fake kernel over a relocated root, for hermetic tests.
//!
//! [`FakeSystem`] keeps `/sys/module` under its [`Root`] the way the kernel
//! would: loading a module creates `/sys/module/<m>/{initstate,refcnt,
//! holders/}` and adds it to the holders of the modules it depends on
//! (from the `depends=` field of the file: `.modinfo` for an ELF module, a
//! `depends=a,b` line for a text stand-in); unloading refuses a module in
//! use and undoes all that. Every call is recorded, and appended to a log
//! file when one is given.
//!
//! `modprobe` uses it instead of the real kernel when both
//! `MODUTILS_SYSROOT` and [`FAKE_KERNEL_ENV`] are set; the latter names
//! the log file (a host path). A relocated root is required so that a
//! stray variable can never turn a real `modprobe` into a no-op.
//!
//! Failures are scripted in `<root>/fake-kernel.rules`, one per line:
//! `insert NAME ERRNO`, `remove NAME ERRNO`, and `busy NAME MSEC` (removal
//! answers `EAGAIN` until the fake clock, which only sleeping advances,
//! reaches MSEC).

use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::system::{self, InitState, InsertError, SysError, System};
use super::Force;
use crate::name::{modname_from_path, modname_normalize};
use crate::Root;

/// Names the call log; see the module documentation.
pub const FAKE_KERNEL_ENV: &str = "MODUTILS_FAKE_KERNEL";

/// The fake kernel's log file when the environment asks for the fake
/// kernel ([`FAKE_KERNEL_ENV`]) and the root is relocated; `None` means the
/// real kernel. The one place tools decide, so that the variable alone, or
/// with a root that is `/` under another name, never stands in for the
/// kernel.
pub fn fake_kernel_log(root: &Root) -> Option<PathBuf> {
    root.prefix()?;
    std::env::var_os(FAKE_KERNEL_ENV).map(PathBuf::from)
}

/// Where the failure script lives, as a target path.
pub const RULES: &str = "/fake-kernel.rules";

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Insert {
        path: PathBuf,
        options: Vec<u8>,
        force: Force,
    },
    Remove {
        name: String,
        force: bool,
    },
    Run {
        module: String,
        command: Vec<u8>,
    },
    Sleep {
        until: u64,
    },
}

impl Call {
    /// The call as one line of the log: `insert PATH OPTIONS`,
    /// `remove NAME`, `run MODULE COMMAND`, `sleep MSEC`; forced calls
    /// carry `--force…` after the verb.
    pub fn line(&self) -> String {
        match self {
            Call::Insert {
                path,
                options,
                force,
            } => {
                let mut verb = String::from("insert");
                if force.modversion {
                    verb += " --force-modversion";
                }
                if force.vermagic {
                    verb += " --force-vermagic";
                }
                format!(
                    "{verb} {} {}",
                    path.display(),
                    String::from_utf8_lossy(options)
                )
            }
            Call::Remove { name, force } => {
                format!("remove{} {name}", if *force { " --force" } else { "" })
            }
            Call::Run { module, command } => {
                format!("run {module} {}", String::from_utf8_lossy(command))
            }
            Call::Sleep { until } => format!("sleep {until}"),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct FakeSystem {
    root: Root,
    log: Option<PathBuf>,
    calls: Vec<Call>,
    clock: u64,
    /// Run install and remove commands for real (through `/bin/sh`), or
    /// only record them and report success.
    pub run_commands: bool,
}

impl FakeSystem {
    pub fn new(root: Root, log: Option<PathBuf>) -> FakeSystem {
        FakeSystem {
            root,
            log,
            calls: Vec::new(),
            clock: 0,
            run_commands: true,
        }
    }

    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    fn record(&mut self, call: Call) {
        if let Some(log) = &self.log {
            let line = call.line() + "\n";
            if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(log) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        self.calls.push(call);
    }

    fn host(&self, target: impl AsRef<Path>) -> PathBuf {
        self.root.host(target)
    }

    /// The scripted answer for `verb` on `name`, if any.
    fn rule(&self, verb: &str, name: &str) -> Option<u64> {
        let text = fs::read_to_string(self.host(RULES)).ok()?;
        text.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(verb) && w.next() == Some(name))
                .then(|| w.next()?.parse().ok())
                .flatten()
        })
    }

    fn sys(&self, name: &str) -> PathBuf {
        self.host(format!("/sys/module/{name}"))
    }

    fn add_refcnt(&self, name: &str, delta: i64) {
        let file = self.sys(name).join("refcnt");
        let now = fs::read_to_string(&file)
            .ok()
            .and_then(|t| crate::sysfs::parse_long(&t))
            .unwrap_or(0);
        let _ = fs::write(file, format!("{}\n", now + delta));
    }

    /// The names a module file says it depends on.
    fn depends(&self, path: &Path) -> std::io::Result<Vec<String>> {
        let bytes = fs::read(self.host(path))?;
        let mut fields: Vec<Vec<u8>> = Vec::new();
        match crate::elf::Elf::parse(&bytes) {
            Ok(elf) => fields.extend(elf.modinfo().unwrap_or_default().iter().map(|f| f.to_vec())),
            Err(_) => fields.extend(bytes.split(|&c| c == b'\n').map(<[u8]>::to_vec)),
        }
        Ok(fields
            .iter()
            .filter_map(|f| f.strip_prefix(b"depends="))
            .flat_map(|v| v.split(|&c| c == b','))
            .filter(|d| !d.is_empty())
            .map(|d| String::from_utf8_lossy(&modname_normalize(d)).into_owned())
            .collect())
    }
}

impl System for FakeSystem {
    fn initstate(&mut self, name: &str) -> Result<InitState, SysError> {
        system::read_initstate(&self.root, name)
    }

    fn refcnt(&mut self, name: &str) -> Result<i64, SysError> {
        system::read_refcnt(&self.root, name)
    }

    fn holders(&mut self, name: &str) -> Result<Vec<String>, SysError> {
        let mut names = system::read_holders(&self.root, name)?;
        // A real kernel's order is its own; the fake's is made stable.
        names.sort();
        Ok(names)
    }

    fn insert(&mut self, path: &Path, options: &[u8], force: Force) -> Result<(), InsertError> {
        self.record(Call::Insert {
            path: path.to_path_buf(),
            options: options.to_vec(),
            force,
        });
        let kernel = |errno| InsertError {
            errno,
            from_kernel: true,
        };
        let depends = self.depends(path).map_err(|e| InsertError {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            from_kernel: false,
        })?;
        let name = modname_from_path(path);
        if let Some(errno) = self.rule("insert", &name) {
            return Err(kernel(errno as i32));
        }
        let dir = self.sys(&name);
        if dir.join("initstate").exists() {
            return Err(kernel(libc::EEXIST));
        }
        let made = fs::create_dir_all(dir.join("holders"))
            .and_then(|()| fs::write(dir.join("initstate"), "live\n"))
            .and_then(|()| fs::write(dir.join("refcnt"), "0\n"));
        made.map_err(|_| kernel(libc::EIO))?;
        for dep in depends {
            let holders = self.sys(&dep).join("holders");
            if holders.is_dir() && fs::create_dir(holders.join(&name)).is_ok() {
                self.add_refcnt(&dep, 1);
            }
        }
        Ok(())
    }

    fn remove(&mut self, name: &str, force: bool) -> Result<(), i32> {
        self.record(Call::Remove {
            name: name.to_string(),
            force,
        });
        if let Some(errno) = self.rule("remove", name) {
            return Err(errno as i32);
        }
        if self
            .rule("busy", name)
            .is_some_and(|until| self.clock < until)
        {
            return Err(libc::EAGAIN);
        }
        let dir = self.sys(name);
        match system::read_initstate(&self.root, name) {
            Err(e) => return Err(e.errno),
            Ok(InitState::Live) => {}
            Ok(_) => return Err(libc::EBUSY),
        }
        let users = system::read_refcnt(&self.root, name).unwrap_or(0);
        if users > 0 && !force {
            return Err(libc::EAGAIN);
        }
        fs::remove_dir_all(&dir).map_err(|_| libc::EIO)?;
        let Ok(all) = fs::read_dir(self.host("/sys/module")) else {
            return Ok(());
        };
        for other in all.map_while(Result::ok) {
            let held = other.path().join("holders").join(name);
            if fs::remove_dir(&held).is_ok() || fs::remove_file(&held).is_ok() {
                let other = other.file_name();
                self.add_refcnt(&String::from_utf8_lossy(other.as_bytes()), -1);
            }
        }
        Ok(())
    }

    fn run(&mut self, command: &[u8], module: &str) -> Result<i32, i32> {
        self.record(Call::Run {
            module: module.to_string(),
            command: command.to_vec(),
        });
        if self.run_commands {
            system::system(command, module)
        } else {
            Ok(0)
        }
    }

    fn now_msec(&mut self) -> u64 {
        self.clock
    }

    fn sleep_until_msec(&mut self, msec: u64) {
        self.record(Call::Sleep { until: msec });
        self.clock = self.clock.max(msec);
    }
}
