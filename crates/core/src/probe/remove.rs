//! `modprobe -r`: removing a module, its holders and soft dependencies, and
//! the dependencies it leaves unused.
//!
//! The order follows kmod's `rmmod_do_module`: post soft dependencies (in
//! reverse), holders (with `--remove-holders`), the use-count check, the
//! module itself (or its remove command), its dependencies, pre soft
//! dependencies (in reverse).
//!
//! The deliberate difference is the dependency step. kmod goes once
//! through the dependencies, deepest first, removing those whose use count
//! is zero at that moment; a dependency still used by another dependency
//! that is removed later in the same pass stays loaded (after
//! `modprobe -r bttv`, kmod leaves `mc`, `videodev` and `videobuf_core`).
//! Here every dependency that has become unused is removed, dependents
//! first: the list is taken in modules.dep order (users before what they
//! use) and gone through again until nothing more can go. In a dry run the
//! use counts are adjusted for the modules that would have gone.

use std::collections::HashSet;

use super::engine::{Engine, ModId};
use super::system::InitState;
use super::Action;
use crate::diagnostics::strerror;
use crate::diagnostics::Level;

/// How to remove.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoveOptions {
    /// Skip remove commands and soft dependencies (`-i`).
    pub ignore_commands: bool,
    /// Do not look at what is loaded (`--show-depends`).
    pub ignore_loaded: bool,
    /// Decide and show, but do nothing (`-n`).
    pub dry_run: bool,
    /// Fail if the module is not loaded (`--first-time`).
    pub first_time: bool,
    /// Forced unload (`-f`).
    pub force: bool,
    /// Retry a module in use for up to this many milliseconds (`-w`);
    /// 0 does not wait, and checks the use count first.
    pub wait_msec: u64,
    /// Remove the modules using this one first (`--remove-holders`).
    pub remove_holders: bool,
}

/// Soft dependencies and holders nested deeper than this are not followed:
/// a configuration would have to chain thousands of loaded modules.
const MAX_DEPTH: usize = 256;

#[derive(Clone, Copy)]
struct Flags {
    holders: bool,
    ignore_builtin: bool,
}

impl Engine<'_> {
    /// Removes `target` as `modprobe -r` does. The error is an errno.
    pub fn remove(&mut self, target: ModId, opts: &RemoveOptions) -> Result<(), i32> {
        let flags = Flags {
            holders: opts.remove_holders,
            ignore_builtin: false,
        };
        let mut active = HashSet::new();
        self.remove_module(target, opts, flags, &mut active)
    }

    fn remove_module(
        &mut self,
        m: ModId,
        opts: &RemoveOptions,
        flags: Flags,
        active: &mut HashSet<Vec<u8>>,
    ) -> Result<(), i32> {
        let (pre, post, cmd) = if opts.ignore_commands {
            (Vec::new(), Vec::new(), None)
        } else {
            let (pre, post) = self.softdeps(m);
            (pre, post, self.remove_command(m))
        };
        let name = self.name(m).to_vec();
        if cmd.is_none() && !opts.ignore_loaded {
            match self.initstate(m) {
                Err(_) if opts.first_time => {
                    self.report
                        .fatal(&[b"Module ", &name[..], b" is not in kernel."].concat());
                    return Err(libc::ENOENT);
                }
                Err(_) => return Ok(()),
                Ok(InitState::Builtin) if flags.ignore_builtin => return Ok(()),
                Ok(InitState::Builtin) => {
                    self.report
                        .fatal(&[b"Module ", &name[..], b" is builtin."].concat());
                    return Err(libc::ENOENT);
                }
                Ok(_) => {}
            }
        }
        // Soft dependencies may form cycles (a post: b, b post: a); kmod
        // would recurse until it crashes. A module already being removed
        // further up is left to that call.
        if active.len() >= MAX_DEPTH || !active.insert(name.clone()) {
            return Ok(());
        }
        let result = self.remove_steps(m, opts, flags, active, (pre, post, cmd));
        active.remove(&name);
        result
    }

    fn remove_steps(
        &mut self,
        m: ModId,
        opts: &RemoveOptions,
        flags: Flags,
        active: &mut HashSet<Vec<u8>>,
        (pre, post, cmd): (Vec<ModId>, Vec<ModId>, Option<Vec<u8>>),
    ) -> Result<(), i32> {
        let nested = Flags {
            holders: false,
            ignore_builtin: true,
        };
        for &p in post.iter().rev() {
            let _ = self.remove_module(p, opts, nested, active);
        }
        if flags.holders {
            for h in self.holders(m).into_iter().rev() {
                self.remove_module(h, opts, nested, active)?;
            }
        }
        if cmd.is_none() && !opts.ignore_loaded && opts.wait_msec == 0 {
            if let Ok(usage) = self.refcnt(m) {
                if usage > 0 {
                    let msg = [b"Module ", self.name(m), b" is in use."].concat();
                    self.report.fatal(&msg);
                    return Err(libc::EBUSY);
                }
            }
        }
        match &cmd {
            None => self.remove_one(m, opts)?,
            Some(c) => self.remove_command_run(m, c, opts)?,
        }
        if cmd.is_none() {
            self.remove_unused_dependencies(m, opts, active);
        }
        for &p in pre.iter().rev() {
            let _ = self.remove_module(p, opts, nested, active);
        }
        Ok(())
    }

    /// The remove command, run by modprobe itself (not libkmod): shown
    /// with `$CMDLINE_OPTS` already replaced (by nothing), and a failure is
    /// modprobe's own fatal error.
    fn remove_command_run(
        &mut self,
        m: ModId,
        cmd: &[u8],
        opts: &RemoveOptions,
    ) -> Result<(), i32> {
        let cmd = super::expand_cmdline_opts(cmd, b"");
        self.report.show(Action::Remove { command: &cmd });
        if opts.dry_run {
            return Ok(());
        }
        let name = self.name(m).to_vec();
        let status = self.sys.run(&cmd, &name);
        let code = match status {
            Ok(s) => libc::WEXITSTATUS(s),
            Err(_) => -1,
        };
        if code != 0 {
            self.report
                .fatal(&[b"Error running remove command for ", &name[..]].concat());
            return Err(if code < 0 { libc::EPERM } else { code });
        }
        Ok(())
    }

    /// `delete_module`, retried with exponential backoff under `-w`.
    fn remove_one(&mut self, m: ModId, opts: &RemoveOptions) -> Result<(), i32> {
        let name = self.name(m).to_vec();
        self.report.show(Action::Rmmod { name: &name });
        if opts.dry_run {
            return Ok(());
        }
        let quiet = opts.wait_msec > 0;
        let mut deadline = None;
        let mut interval = 0u64;
        let err = loop {
            let err = match self.sys.remove(&name, opts.force) {
                Ok(()) => break 0,
                Err(e) => e,
            };
            if !quiet {
                self.report.log(Level::Err, &could_not_remove(&name, err));
            }
            if err == libc::EEXIST {
                if !opts.first_time {
                    break 0;
                }
                self.report
                    .fatal(&[b"Module ", &name[..], b" is not in kernel."].concat());
                break err;
            }
            if err != libc::EAGAIN || opts.wait_msec == 0 {
                break err;
            }
            let now = self.sys.now_msec();
            let end = *deadline.get_or_insert_with(|| {
                // kmod primes the interval with 1, so the first wait is 2 ms.
                interval = 1;
                now.saturating_add(opts.wait_msec)
            });
            if now >= end {
                break err;
            }
            interval = next_backoff(interval, end - now);
            self.sys.sleep_until_msec(now + interval);
        };
        if err != 0 && quiet {
            self.report.log(Level::Err, &could_not_remove(&name, err));
        }
        if err == 0 {
            Ok(())
        } else {
            Err(err)
        }
    }

    /// Our dependency step (see the module comment). Modules being removed
    /// further up (the target of `--remove-holders` while its holders go)
    /// are left to that removal.
    fn remove_unused_dependencies(
        &mut self,
        m: ModId,
        opts: &RemoveOptions,
        active: &HashSet<Vec<u8>>,
    ) {
        let mut deps = self.dependencies(m);
        deps.reverse();
        let mut gone: HashSet<Vec<u8>> = HashSet::from([self.name(m).to_vec()]);
        loop {
            let mut progress = false;
            for &d in &deps {
                if gone.contains(self.name(d)) || active.contains(self.name(d)) {
                    continue;
                }
                let Ok(mut users) = self.refcnt(d) else {
                    // Not loaded, built in, or no unloading in this kernel.
                    continue;
                };
                if users > 0 {
                    let holders = self.holders(d);
                    let left = holders.iter().filter(|&&h| gone.contains(self.name(h)));
                    users -= left.count() as i64;
                }
                if users == 0 && self.remove_one(d, opts).is_ok() {
                    gone.insert(self.name(d).to_vec());
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
    }
}

/// libkmod's message for a failed `delete_module`.
fn could_not_remove(name: &[u8], errno: i32) -> Vec<u8> {
    let why = strerror(errno);
    [b"could not remove '", name, b"': ", why.as_bytes()].concat()
}

/// The next wait of kmod's exponential backoff: 1, 2, 4… ms, halved
/// until it fits the time left, or all of that time when even 1 ms does
/// not fit.
fn next_backoff(interval: u64, left: u64) -> u64 {
    let mut d = if interval == 0 {
        1
    } else {
        interval.saturating_mul(2)
    };
    while d > left {
        d >>= 1;
    }
    if d == 0 {
        left
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::next_backoff;

    #[test]
    fn backoff_doubles_and_fits_the_time_left() {
        assert_eq!(next_backoff(0, 100), 1);
        assert_eq!(next_backoff(1, 100), 2);
        assert_eq!(next_backoff(32, 100), 64);
        assert_eq!(next_backoff(64, 100), 64);
        assert_eq!(next_backoff(64, 10), 8);
    }
}
