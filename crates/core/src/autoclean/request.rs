//! Telling the kernel's own call of modprobe apart, and recording what it
//! loaded.
//!
//! The kernel runs `modprobe -q -- NAME` (the path in
//! `/proc/sys/kernel/modprobe`) through its usermode helper: a process
//! forked by a kernel worker thread. Its environment (`HOME=/`,
//! `TERM=linux`, a fixed `PATH`), session 0 and missing terminal are also
//! what an initramfs's `/init` and its children have, so they prove
//! nothing; a parent that is a kernel thread does: no user program can
//! have one. Both Debian 6.1 and 6.12 start the helper from a
//! `kworker/…+events_unbound` thread (the VM suite checks this through
//! `11-autoclean`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Entry, Error, State};
use crate::kernel::Syscall;
use crate::name::modname_from_path_bytes;
use crate::probe::{Force, InitState, InsertError, SysError, System};
use crate::Root;

/// The kernel-thread bit of the flags in `/proc/<pid>/stat` (the kernel's
/// `PF_KTHREAD`).
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The name the kernel asked for, when this process is the kernel's
/// request: `args` (`argv[0]` first) are exactly `PROGRAM -q -- NAME`, and
/// the parent process is a kernel thread (its `/proc/<ppid>/stat`, read
/// through `root`).
pub fn kernel_request(root: &Root, args: &[OsString]) -> Option<OsString> {
    let [_, quiet, dashes, name] = args else {
        return None;
    };
    if quiet != "-q" || dashes != "--" {
        return None;
    }
    // SAFETY: getppid has no preconditions and cannot fail.
    let ppid = unsafe { libc::getppid() };
    // 0: the parent is outside this process's PID namespace.
    if ppid <= 0 {
        return None;
    }
    let stat = std::fs::read(root.host(format!("/proc/{ppid}/stat"))).ok()?;
    (process_flags(&stat)? & PF_KTHREAD != 0).then(|| name.clone())
}

/// The flags field of a `/proc/<pid>/stat` line: the seventh field after
/// the command name, which is in parentheses and may hold anything.
fn process_flags(stat: &[u8]) -> Option<u64> {
    let after = &stat[stat.iter().rposition(|&c| c == b')')? + 1..];
    let text = std::str::from_utf8(after).ok()?;
    text.split_ascii_whitespace().nth(6)?.parse().ok()
}

/// A [`System`] that passes everything on and keeps the names of the
/// modules it inserted.
pub struct Recorder<'a> {
    inner: &'a mut dyn System,
    inserted: Vec<Vec<u8>>,
}

impl<'a> Recorder<'a> {
    /// A recorder passing every call on to `inner`.
    pub fn new(inner: &'a mut dyn System) -> Recorder<'a> {
        Recorder {
            inner,
            inserted: Vec::new(),
        }
    }

    /// The modules inserted so far, in order.
    pub fn inserted(&self) -> &[Vec<u8>] {
        &self.inserted
    }
}

impl System for Recorder<'_> {
    fn initstate(&mut self, name: &[u8]) -> Result<InitState, SysError> {
        self.inner.initstate(name)
    }

    fn refcnt(&mut self, name: &[u8]) -> Result<i64, SysError> {
        self.inner.refcnt(name)
    }

    fn holders(&mut self, name: &[u8]) -> Result<Vec<Vec<u8>>, SysError> {
        self.inner.holders(name)
    }

    fn instance(&mut self, name: &[u8]) -> Result<u64, SysError> {
        self.inner.instance(name)
    }

    fn insert(
        &mut self,
        path: &Path,
        options: &[u8],
        force: Force,
    ) -> Result<Option<Syscall>, InsertError> {
        let syscall = self.inner.insert(path, options, force)?;
        self.inserted
            .push(modname_from_path_bytes(path.as_os_str().as_bytes()));
        Ok(syscall)
    }

    fn remove(&mut self, name: &[u8], force: bool) -> Result<(), i32> {
        self.inner.remove(name, force)
    }

    fn run(&mut self, command: &[u8], module: &[u8]) -> Result<i32, i32> {
        self.inner.run(command, module)
    }

    fn now_msec(&mut self) -> u64 {
        self.inner.now_msec()
    }

    fn sleep_until_msec(&mut self, msec: u64) {
        self.inner.sleep_until_msec(msec)
    }
}

/// Records `names`, modules just loaded at the kernel's request, with the
/// load each is now ([`System::instance`]); a module already gone again is
/// left out. A module recorded before gets a new, unmarked record.
pub fn record(root: &Root, sys: &mut dyn System, names: &[Vec<u8>]) -> Result<(), Error> {
    let loads: Vec<Entry> = names
        .iter()
        .filter_map(|name| {
            Some(Entry {
                name: name.clone(),
                instance: sys.instance(name).ok()?,
                unused: false,
            })
        })
        .collect();
    if loads.is_empty() {
        return Ok(());
    }
    State::update(root, |state| {
        for load in loads {
            state.entries.retain(|e| e.name != load.name);
            state.entries.push(load);
        }
    })
}
