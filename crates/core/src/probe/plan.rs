//! The load list: which modules `modprobe M` inserts, in which order.
//!
//! This is libkmod's walk, quirks included, because `--show-depends` output
//! is read by initramfs builders:
//!
//! * M's dependencies come in modules.dep order reversed (deepest first).
//! * Each dependency, then M, is added together with its soft
//!   dependencies: `pre:` modules (each with its own dependencies) before,
//!   `post:` modules after. A module is only walked once, but the append
//!   in the soft-dependency step has no such check, so a module can be
//!   listed several times.
//! * A module with resolvable soft dependencies has its install command
//!   ignored (kmod marks it "ignore command" when it appends it).
//! * With `-i`, M itself is appended without its soft dependencies.
//!
//! The walk is done with an explicit stack rather than recursion, so a
//! configuration with absurdly long soft-dependency chains cannot overflow
//! the stack.

use super::engine::{Engine, ModId};

/// One entry of the load list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The module to load.
    pub module: ModId,
    /// Insert the file even if an install command is configured.
    pub ignore_command: bool,
    /// M or one of its dependencies: a failure stops the load. Soft
    /// dependencies are not required; their failures are ignored.
    pub required: bool,
}

enum Work {
    /// Walk a module: its dependencies' soft dependencies, then itself.
    Walk {
        id: ModId,
        required: bool,
        ignore_command: bool,
    },
    /// A module with its soft dependencies around it.
    WithSoftdeps(ModId),
    /// Append, setting the module's ignore-command mark.
    Append(ModId, bool),
}

impl Engine<'_> {
    /// The load list for `target`; `ignore_commands` is `-i`.
    pub fn plan(&mut self, target: ModId, ignore_commands: bool) -> Vec<Step> {
        for e in &mut self.entries {
            e.visited = false;
            e.required = false;
        }
        let mut list: Vec<ModId> = Vec::new();
        let mut stack = vec![Work::Walk {
            id: target,
            required: true,
            ignore_command: ignore_commands,
        }];
        while let Some(work) = stack.pop() {
            match work {
                Work::Walk {
                    id,
                    required,
                    ignore_command,
                } => {
                    if self.e(id).visited {
                        continue;
                    }
                    self.e_mut(id).visited = true;
                    let deps = self.dependencies(id);
                    if required {
                        self.e_mut(id).required = true;
                        for &d in &deps {
                            self.e_mut(d).required = true;
                        }
                    }
                    // Pushed in reverse: the stack pops them in order.
                    stack.push(if ignore_command {
                        Work::Append(id, true)
                    } else {
                        Work::WithSoftdeps(id)
                    });
                    stack.extend(deps.iter().rev().map(|&d| Work::WithSoftdeps(d)));
                }
                Work::WithSoftdeps(id) => {
                    let (pre, post) = self.softdeps(id);
                    let has_softdeps = !pre.is_empty() || !post.is_empty();
                    let walk = |&p: &ModId| Work::Walk {
                        id: p,
                        required: false,
                        ignore_command: false,
                    };
                    stack.extend(post.iter().rev().map(walk));
                    stack.push(Work::Append(id, has_softdeps));
                    stack.extend(pre.iter().rev().map(walk));
                }
                Work::Append(id, ignore_command) => {
                    self.e_mut(id).ignorecmd = ignore_command;
                    list.push(id);
                }
            }
        }
        // kmod reads the marks when it goes through the list, after the
        // walk: a module listed twice carries its last marks both times.
        list.into_iter()
            .map(|id| Step {
                module: id,
                ignore_command: self.e(id).ignorecmd,
                required: self.e(id).required,
            })
            .collect()
    }
}
