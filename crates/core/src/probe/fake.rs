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
//! `modprobe`, `insmod` and `rmmod` use it instead of the real kernel when both
//! `MODUTILS_SYSROOT` and [`FAKE_KERNEL_ENV`] are set ([`fake_kernel_log`]);
//! the latter names the log file (a host path). A relocated root is
//! required so that a stray variable can never turn a real tool into a
//! no-op.
//!
//! Failures are scripted in `<root>/fake-kernel.rules`, one per line:
//! `insert NAME ERRNO`, `remove NAME ERRNO`, and `busy NAME MSEC` (removal
//! answers `EAGAIN` until the fake clock, which only sleeping advances,
//! reaches MSEC). `log NAME MESSAGE` lines are what the kernel logs when it
//! refuses NAME: each is appended to `<root>/dev/kmsg`, if that file
//! exists, as a `/dev/kmsg` record.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::system::{self, InitState, InsertError, SysError, System};
use super::Force;
use crate::kernel::Syscall;
use crate::name::{modname_from_path_bytes, modname_normalize};
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
    /// A module load (`init_module`/`finit_module` on a real kernel).
    Insert {
        /// The module file, as a target path.
        path: PathBuf,
        /// The parameters passed to the module, space-separated.
        options: Vec<u8>,
        /// Which `--force` checks were asked to be skipped.
        force: Force,
    },
    /// A module removal (`delete_module`).
    Remove {
        /// The module's name as given to the kernel.
        name: Vec<u8>,
        /// Whether removal was forced (`O_TRUNC`), which only kernels with
        /// `CONFIG_MODULE_FORCE_UNLOAD` honour.
        force: bool,
    },
    /// An install or remove command run in place of the kernel call.
    Run {
        /// The module the command stands in for, as given in `MODPROBE_MODULE`.
        module: Vec<u8>,
        /// The shell command line.
        command: Vec<u8>,
    },
    /// A pause between tries to remove a busy module (`--wait`).
    Sleep {
        /// The fake clock's reading to wait for, in milliseconds.
        until: u64,
    },
}

impl Call {
    /// The call as one line of the log: `insert PATH OPTIONS`,
    /// `remove NAME`, `run MODULE COMMAND`, `sleep MSEC`; forced calls
    /// carry `--force…` after the verb. Bytes, as names and paths are.
    pub fn line(&self) -> Vec<u8> {
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
                let path = path.as_os_str().as_bytes();
                [verb.as_bytes(), b" ", path, b" ", options].concat()
            }
            Call::Remove { name, force } => {
                let verb: &[u8] = if *force {
                    b"remove --force "
                } else {
                    b"remove "
                };
                [verb, name].concat()
            }
            Call::Run { module, command } => [&b"run "[..], module, b" ", command].concat(),
            Call::Sleep { until } => format!("sleep {until}").into_bytes(),
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
    /// A fake kernel over `root`, its calls appended to `log` (a host path) when given.
    pub fn new(root: Root, log: Option<PathBuf>) -> FakeSystem {
        FakeSystem {
            root,
            log,
            calls: Vec::new(),
            clock: 0,
            run_commands: true,
        }
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    fn record(&mut self, call: Call) {
        if let Some(log) = &self.log {
            let mut line = call.line();
            line.push(b'\n');
            if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(log) {
                let _ = f.write_all(&line);
            }
        }
        self.calls.push(call);
    }

    fn host(&self, target: impl AsRef<Path>) -> PathBuf {
        self.root.host(target)
    }

    /// The scripted answer for `verb` on `name`, if any.
    fn rule(&self, verb: &str, name: &[u8]) -> Option<u64> {
        self.rules(verb, name).into_iter().find_map(|rest| {
            let first = rest.split(u8::is_ascii_whitespace).next()?;
            std::str::from_utf8(first).ok()?.parse().ok()
        })
    }

    /// What follows `VERB NAME` on each rule line for them.
    fn rules(&self, verb: &str, name: &[u8]) -> Vec<Vec<u8>> {
        let text = fs::read(self.host(RULES)).unwrap_or_default();
        // The first word of `s`, and the rest after the blanks that follow.
        fn word(s: &[u8]) -> (&[u8], &[u8]) {
            let s = s.trim_ascii_start();
            let end = s
                .iter()
                .position(u8::is_ascii_whitespace)
                .unwrap_or(s.len());
            (&s[..end], s[end..].trim_ascii_start())
        }
        text.split(|&c| c == b'\n')
            .filter_map(|l| {
                let (v, rest) = word(l);
                let (n, rest) = word(rest);
                (v == verb.as_bytes() && n == name).then(|| rest.to_vec())
            })
            .collect()
    }

    /// Appends the scripted kernel log lines about refusing `name`.
    fn log_refusal(&self, name: &[u8]) {
        let Ok(mut kmsg) = fs::OpenOptions::new()
            .append(true)
            .open(self.host(crate::kernel::DEV_KMSG))
        else {
            return;
        };
        for message in self.rules("log", name) {
            let _ = kmsg.write_all(&[b"4,0,0,-;", &message[..], b"\n"].concat());
        }
    }

    fn sys(&self, name: &[u8]) -> PathBuf {
        self.host(crate::sysfs::module_path(name, None))
    }

    fn add_refcnt(&self, name: &[u8], delta: i64) {
        let file = self.sys(name).join("refcnt");
        let now = fs::read_to_string(&file)
            .ok()
            .and_then(|t| crate::sysfs::parse_long(&t))
            .unwrap_or(0);
        let _ = fs::write(file, format!("{}\n", now + delta));
    }

    /// The names a module file says it depends on.
    fn depends(&self, path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
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
            .map(modname_normalize)
            .collect())
    }
}

impl System for FakeSystem {
    fn initstate(&mut self, name: &[u8]) -> Result<InitState, SysError> {
        system::read_initstate(&self.root, name)
    }

    fn refcnt(&mut self, name: &[u8]) -> Result<i64, SysError> {
        system::read_refcnt(&self.root, name)
    }

    fn holders(&mut self, name: &[u8]) -> Result<Vec<Vec<u8>>, SysError> {
        let mut names = system::read_holders(&self.root, name)?;
        // A real kernel's order is its own; the fake's is made stable.
        names.sort();
        Ok(names)
    }

    fn instance(&mut self, name: &[u8]) -> Result<u64, SysError> {
        system::read_instance(&self.root, name)
    }

    fn insert(
        &mut self,
        path: &Path,
        options: &[u8],
        force: Force,
    ) -> Result<Option<Syscall>, InsertError> {
        self.record(Call::Insert {
            path: path.to_path_buf(),
            options: options.to_vec(),
            force,
        });
        let kernel = |errno| InsertError {
            errno,
            from_kernel: true,
            syscall: None,
        };
        let depends = self.depends(path).map_err(|e| InsertError {
            errno: crate::diagnostics::errno_of(&e),
            from_kernel: false,
            syscall: None,
        })?;
        let name = modname_from_path_bytes(path.as_os_str().as_bytes());
        if let Some(errno) = self.rule("insert", &name) {
            self.log_refusal(&name);
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
            if holders.is_dir() && fs::create_dir(holders.join(OsStr::from_bytes(&name))).is_ok() {
                self.add_refcnt(&dep, 1);
            }
        }
        Ok(None)
    }

    fn remove(&mut self, name: &[u8], force: bool) -> Result<(), i32> {
        self.record(Call::Remove {
            name: name.to_vec(),
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
            let held = other.path().join("holders").join(OsStr::from_bytes(name));
            if fs::remove_dir(&held).is_ok() || fs::remove_file(&held).is_ok() {
                self.add_refcnt(&other.file_name().into_vec(), -1);
            }
        }
        Ok(())
    }

    fn run(&mut self, command: &[u8], module: &[u8]) -> Result<i32, i32> {
        self.record(Call::Run {
            module: module.to_vec(),
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
