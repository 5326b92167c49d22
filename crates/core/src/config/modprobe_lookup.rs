//! The lookups the modprobe engine makes in modprobe.d.
//!
//! Which entry counts differs by directive, as in kmod: aliases and options
//! collect every match, install/remove/softdep/weakdep take the first, and
//! module names are matched with fnmatch except where kmod uses strcmp
//! (options, blacklist, and the install/remove lookup step).

use super::modprobe::{Alias, Command, ModOptions, ModprobeConfig, SoftDep, WeakDep};
use crate::fnmatch::fnmatch;

impl ModprobeConfig {
    /// Every `alias` whose pattern matches `name`, in config order.
    pub fn aliases_matching<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s Alias> + 's {
        self.aliases
            .iter()
            .filter(move |a| fnmatch(&a.pattern, name))
    }

    /// The options for a module known as `name` (and, when it was found
    /// through an alias, as `alias`): every entry naming either exactly, in
    /// config order, joined with one space; empty entries are skipped. None
    /// when there are none, as kmod returns NULL.
    pub fn options_for(&self, name: &[u8], alias: Option<&[u8]>) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        for o in &self.options {
            let hit = o.modname == name || alias.is_some_and(|a| o.modname == a);
            if !hit || o.options.is_empty() {
                continue;
            }
            match &mut out {
                Some(v) => {
                    v.push(b' ');
                    v.extend_from_slice(&o.options);
                }
                None => out = Some(o.options.clone()),
            }
        }
        out
    }

    /// The install command for a module: the first entry whose name pattern
    /// matches (fnmatch).
    pub fn install_command(&self, name: &[u8]) -> Option<&[u8]> {
        first_match(&self.installs, name)
    }

    /// The remove command for a module, as [`Self::install_command`].
    pub fn remove_command(&self, name: &[u8]) -> Option<&[u8]> {
        first_match(&self.removes, name)
    }

    /// The first install entry whose name equals `name` byte for byte: the
    /// lookup step that lets an install command stand for a module.
    pub fn install_exact(&self, name: &[u8]) -> Option<&Command> {
        self.installs.iter().find(|c| c.modname == name)
    }

    /// As [`Self::install_exact`], for remove entries.
    pub fn remove_exact(&self, name: &[u8]) -> Option<&Command> {
        self.removes.iter().find(|c| c.modname == name)
    }

    /// Whether `name` is blacklisted (exact match).
    pub fn is_blacklisted(&self, name: &[u8]) -> bool {
        self.blacklists.iter().any(|b| b == name)
    }

    /// The softdep for a module: only the first matching entry counts.
    pub fn softdeps_for(&self, name: &[u8]) -> Option<&SoftDep> {
        self.softdeps.iter().find(|d| fnmatch(&d.modname, name))
    }

    /// The weakdep for a module: only the first matching entry counts.
    pub fn weakdeps_for(&self, name: &[u8]) -> Option<&WeakDep> {
        self.weakdeps.iter().find(|d| fnmatch(&d.modname, name))
    }

    /// The options that came from the kernel command line, in order.
    pub fn kernel_cmdline_options(&self) -> impl Iterator<Item = &ModOptions> {
        self.options.iter().filter(|o| o.from_kernel_cmdline)
    }
}

fn first_match<'s>(list: &'s [Command], name: &[u8]) -> Option<&'s [u8]> {
    list.iter()
        .find(|c| fnmatch(&c.modname, name))
        .map(|c| c.command.as_slice())
}
