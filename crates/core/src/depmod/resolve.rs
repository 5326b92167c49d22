//! From symbols to dependencies: the symbol table, each module's direct
//! dependencies in first-use order, and the topological order that sorts
//! modules.dep lines.

use rayon::prelude::*;

use super::hash::{into_table_order, FastMap, SYMBOL_BUCKETS};
use super::parse::Parsed;
use super::report::{text, Reporter};
use super::symvers::{strip_prefix, KernelSymbols};
use crate::diagnostics::Level;

/// Who provides a symbol: a module (array index) or the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Provider {
    pub owner: Option<u32>,
    pub crc: u64,
}

/// The symbol table: every name with its last provider.
pub(crate) struct Symbols<'a> {
    table: FastMap<&'a [u8], Provider>,
}

impl<'a> Symbols<'a> {
    /// Kernel symbols first, then each module's exports in array order; a
    /// later provider of a name replaces the earlier one.
    pub fn build(
        kernel: &'a KernelSymbols,
        parsed: &'a [Parsed],
        prefix: Option<u8>,
    ) -> Symbols<'a> {
        let exports: usize = parsed.iter().map(|p| p.exports.len()).sum();
        let mut table = FastMap::default();
        table.reserve(exports + kernel.symbols.len());
        for (name, crc) in &kernel.symbols {
            table.insert(
                name.as_slice(),
                Provider {
                    owner: None,
                    crc: *crc,
                },
            );
        }
        for (i, p) in parsed.iter().enumerate() {
            for e in &p.exports {
                let name = strip_prefix(p.str(e.name), prefix);
                table.insert(
                    name,
                    Provider {
                        owner: Some(i as u32),
                        crc: e.crc,
                    },
                );
            }
        }
        Symbols { table }
    }

    /// A needed symbol's provider: a leading `.` (PPC64 function
    /// descriptors) and then the prefix character are ignored.
    fn find(&self, name: &[u8], prefix: Option<u8>) -> Option<(&'a [u8], Provider)> {
        let name = name.strip_prefix(b".").unwrap_or(name);
        let name = strip_prefix(name, prefix);
        self.table.get_key_value(name).map(|(k, v)| (*k, *v))
    }

    /// Module-owned symbols in kmod's symbol-table iteration order.
    pub fn owned_in_table_order(&self) -> Vec<(&'a [u8], u32)> {
        let owned: Vec<(&[u8], u32)> = self
            .table
            .iter()
            .filter_map(|(k, v)| v.owner.map(|o| (*k, o)))
            .collect();
        into_table_order(owned, SYMBOL_BUCKETS, |(k, _)| k)
    }
}

/// What resolving one module produced, replayed in module order.
enum Event {
    Log(Level, Vec<u8>),
    Show(Vec<u8>),
}

/// Every module's direct dependencies, in first-use order, and the kmod
/// `-e` warnings and `-v` lines they give, yet to be reported
/// ([`Resolved::report`]).
pub(crate) struct Resolved(Vec<(Vec<u32>, Vec<Event>)>);

impl Resolved {
    /// Reports each module's messages, in module order, and gives the
    /// dependencies.
    pub fn report(self, rep: &mut dyn Reporter) -> Vec<Vec<u32>> {
        self.0
            .into_iter()
            .map(|(deps, events)| {
                for e in events {
                    match e {
                        Event::Log(level, msg) => rep.log(level, &msg),
                        Event::Show(line) => rep.stdout(&line),
                    }
                }
                deps
            })
            .collect()
    }
}

/// Resolves every module's needed symbols, on all threads.
pub(crate) fn dependencies(
    symbols: &Symbols<'_>,
    parsed: &[Parsed],
    paths: &[&[u8]],
    kernel: &KernelSymbols,
    prefix: Option<u8>,
    verbose: bool,
) -> Resolved {
    Resolved(
        parsed
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let mut deps: Vec<u32> = Vec::new();
                let mut events = Vec::new();
                for imp in p.imports() {
                    let name = p.str(imp.name);
                    let Some((stored, provider)) = symbols.find(name, prefix) else {
                        if kernel.print_unknown && !imp.weak {
                            events.push(Event::Log(
                                Level::Warning,
                                text!(paths[i], b" needs unknown symbol ", name),
                            ));
                        }
                        continue;
                    };
                    if kernel.check_crcs
                        && provider.crc != imp.crc
                        && !imp.weak
                        && kernel.print_unknown
                    {
                        let msg = text!(paths[i], b" disagrees about version of symbol ", name);
                        events.push(Event::Log(Level::Warning, msg));
                    }
                    let Some(owner) = provider.owner else {
                        continue;
                    };
                    if deps.contains(&owner) {
                        continue;
                    }
                    deps.push(owner);
                    if verbose {
                        let line = text!(
                            paths[i],
                            b" needs \"",
                            stored,
                            b"\": ",
                            paths[owner as usize],
                            b"\n"
                        );
                        events.push(Event::Show(line));
                    }
                }
                (deps, events)
            })
            .collect(),
    )
}

/// kmod's topological numbering: modules nobody depends on are roots,
/// pushed in array order onto a stack; each popped module gets the next
/// number and releases its dependencies in order. `Err` carries the
/// remaining user counts when some modules are left over (a cycle).
pub(crate) fn dependency_order(deps: &[Vec<u32>]) -> Result<Vec<u32>, Vec<u32>> {
    let n = deps.len();
    let mut users = vec![0u32; n];
    for d in deps.iter().flatten() {
        users[*d as usize] += 1;
    }
    // Roots in array order; popping from the end takes the last one first.
    let mut stack: Vec<u32> = (0..n as u32).filter(|&i| users[i as usize] == 0).collect();
    let mut sort_idx = vec![u32::MAX; n];
    let mut next = 0u32;
    while let Some(m) = stack.pop() {
        sort_idx[m as usize] = next;
        next += 1;
        for &d in &deps[m as usize] {
            let u = &mut users[d as usize];
            *u -= 1;
            if *u == 0 {
                stack.push(d);
            }
        }
    }
    if (next as usize) < n {
        return Err(users);
    }
    Ok(sort_idx)
}

/// Every module's transitive dependencies sorted by their topological
/// number: the modules.dep order, dependents before their dependencies.
pub(crate) fn closures(deps: &[Vec<u32>], sort_idx: &[u32]) -> Vec<Vec<u32>> {
    (0..deps.len())
        .into_par_iter()
        .map_init(
            || (vec![false; deps.len()], Vec::new()),
            |(seen, stack), m| {
                let mut out: Vec<u32> = Vec::new();
                stack.extend(deps[m].iter().rev().copied());
                while let Some(d) = stack.pop() {
                    if std::mem::replace(&mut seen[d as usize], true) {
                        continue;
                    }
                    out.push(d);
                    stack.extend(deps[d as usize].iter().rev().copied());
                }
                for &d in &out {
                    seen[d as usize] = false;
                }
                out.sort_unstable_by_key(|&d| sort_idx[d as usize]);
                out
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_worked_example() {
        // top -> {mid1, mid2}, top2 -> {base, mid2}, mid1/mid2 -> base gives
        // `top: mid2 mid1 base`, as kmod's depmod writes it.
        let (top, top2, mid1, mid2, base) = (0u32, 1, 2, 3, 4);
        let deps = vec![
            vec![mid1, mid2],
            vec![base, mid2],
            vec![base],
            vec![base],
            vec![],
        ];
        let order = dependency_order(&deps).unwrap();
        let all = closures(&deps, &order);
        assert_eq!(all[top as usize], vec![mid2, mid1, base]);
        assert_eq!(all[top2 as usize], vec![mid2, base]);
    }

    #[test]
    fn cycles_are_left_over() {
        let deps = vec![vec![1], vec![0], vec![]];
        assert!(dependency_order(&deps).is_err());
    }
}
