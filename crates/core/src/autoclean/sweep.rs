//! One sweep over the recorded modules (`rmmod -a`).

use std::collections::{HashMap, HashSet};

use super::{Error, State, STATE_FILE};
use crate::probe::{InitState, System};
use crate::Root;

/// How to sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepOptions {
    /// Remove what is unused now, without waiting for a second sweep to
    /// find it unused again (`--now`).
    pub now: bool,
    /// Decide, but remove nothing and change no mark (`-n`).
    pub dry_run: bool,
}

/// What a sweep did, or in a dry run would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Removed, in the order they went: users before the modules they use.
    pub removed: Vec<Vec<u8>>,
    /// Found unused for the first time: they go at the next sweep if they
    /// are still unused then.
    pub marked: Vec<Vec<u8>>,
    /// Records dropped because the module is gone, or was loaded again
    /// since (by someone else: that load is not the kernel's).
    pub dropped: Vec<Vec<u8>>,
    /// Removals the kernel refused for another reason than use, with the
    /// errno. After `EPERM` nothing more is tried.
    pub failed: Vec<(Vec<u8>, i32)>,
}

/// Sweeps the recorded modules (see the [module documentation](super)):
/// removes each that was unused at the previous sweep and still is (with
/// [`SweepOptions::now`], each that is unused), marks the others that are
/// unused, and drops the records of modules that are gone or were loaded
/// again since. Without a state file there is nothing to do, and nothing
/// is created.
pub fn sweep(root: &Root, sys: &mut dyn System, opts: SweepOptions) -> Result<Outcome, Error> {
    if opts.dry_run {
        let mut state = State::read(root)?;
        return Ok(decide_and_apply(&mut state, sys, opts));
    }
    if !root.host(STATE_FILE).exists() {
        return Ok(Outcome::default());
    }
    State::update(root, |state| decide_and_apply(state, sys, opts))
}

/// A recorded module that is still the load its record names.
struct Current {
    live: bool,
    holders: Vec<Vec<u8>>,
    refcnt: Option<i64>,
}

fn decide_and_apply(state: &mut State, sys: &mut dyn System, opts: SweepOptions) -> Outcome {
    let mut out = Outcome::default();
    let mut current: HashMap<Vec<u8>, Current> = HashMap::new();
    state.entries.retain(|e| {
        let now = sys.initstate(&e.name).ok();
        let same = now.is_some() && sys.instance(&e.name).ok() == Some(e.instance);
        if !same {
            out.dropped.push(e.name.clone());
            return false;
        }
        let c = Current {
            live: now == Some(InitState::Live),
            holders: sys.holders(&e.name).unwrap_or_default(),
            refcnt: sys.refcnt(&e.name).ok(),
        };
        current.insert(e.name.clone(), c);
        true
    });

    // Unused: live, every reference a holder's, every holder itself a
    // recorded module that is unused.
    let mut unused: HashSet<Vec<u8>> = current
        .iter()
        .filter(|(_, c)| c.live && c.refcnt == Some(c.holders.len() as i64))
        .map(|(name, _)| name.clone())
        .collect();
    close_under_holders(&mut unused, &current);
    // What goes: marked before (or --now), and every holder going too.
    let mut going: HashSet<Vec<u8>> = state
        .entries
        .iter()
        .filter(|e| unused.contains(&e.name) && (e.unused || opts.now))
        .map(|e| e.name.clone())
        .collect();
    close_under_holders(&mut going, &current);

    let order = removal_order(state, &going, &current);
    let mut in_use: HashSet<Vec<u8>> = HashSet::new();
    let mut gone: HashSet<Vec<u8>> = HashSet::new();
    let mut stopped = false;
    for name in order {
        if opts.dry_run {
            out.removed.push(name);
            continue;
        }
        if stopped {
            continue;
        }
        match sys.remove(&name, false) {
            Ok(()) => {
                gone.insert(name.clone());
                out.removed.push(name);
            }
            Err(libc::ENOENT) => {
                gone.insert(name.clone());
                out.dropped.push(name);
            }
            // Taken meanwhile (or its user was): the kernel decides.
            Err(libc::EAGAIN | libc::EBUSY) => {
                in_use.insert(name);
            }
            Err(errno) => {
                stopped = errno == libc::EPERM;
                out.failed.push((name, errno));
            }
        }
    }

    state.entries.retain(|e| !gone.contains(&e.name));
    for e in &mut state.entries {
        let now_unused = unused.contains(&e.name) && !in_use.contains(&e.name);
        if now_unused && !e.unused && !going.contains(&e.name) {
            out.marked.push(e.name.clone());
        }
        e.unused = now_unused;
    }
    out
}

/// Removes from `set` every module with a holder outside it, until none
/// is left: a module stays only if all its users are in the set too.
fn close_under_holders(set: &mut HashSet<Vec<u8>>, current: &HashMap<Vec<u8>, Current>) {
    loop {
        let out: Vec<Vec<u8>> = set
            .iter()
            .filter(|m| current[*m].holders.iter().any(|h| !set.contains(h)))
            .cloned()
            .collect();
        if out.is_empty() {
            return;
        }
        for m in out {
            set.remove(&m);
        }
    }
}

/// `going` in an order the kernel accepts: each module after all its
/// holders; among those ready, the newest record first.
fn removal_order(
    state: &State,
    going: &HashSet<Vec<u8>>,
    current: &HashMap<Vec<u8>, Current>,
) -> Vec<Vec<u8>> {
    let mut order: Vec<Vec<u8>> = Vec::new();
    let mut left: Vec<&[u8]> = state
        .entries
        .iter()
        .rev()
        .map(|e| e.name.as_slice())
        .filter(|n| going.contains(*n))
        .collect();
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|m| current[*m].holders.iter().all(|h| order.contains(h)));
        // Holders never form a cycle; if they did, the rest would stay.
        let Some(i) = ready else { break };
        order.push(left.remove(i).to_vec());
    }
    order
}
