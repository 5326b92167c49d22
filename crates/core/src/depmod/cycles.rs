//! Reporting dependency cycles the way kmod does.
//!
//! kmod walks from each module still holding users after the topological
//! sort (in array order), depth first with an explicit LIFO stack, and
//! reports a cycle whenever the walk comes back to its starting module.
//! Modules on a reported cycle and modules without dependencies leave the
//! list of starting points; kmod's list removal hands back the element after
//! the removed one as the new head, so each removal also rotates the list,
//! which decides the order of the reports. A start that an earlier walk
//! already visited is "found" again at once and reported alone
//! (`Cycle detected: m`), as kmod does. kmod 30 re-expands a module it reaches again on
//! the same path when that module is not the start, and so never finishes
//! when a cycle leads into another one; such paths are cut here, which
//! changes nothing in the cases where kmod terminates.

use super::hash::FastMap;

/// Beyond this many walk steps the report stops (a pathological graph with
/// exponentially many paths); what was found so far is reported.
const STEP_LIMIT: usize = 5_000_000;

struct Vertex {
    module: u32,
    parent: Option<usize>,
}

/// The cycle lines (module-name chains) and the number of distinct modules
/// on them. `users` are the counts left by the topological sort.
pub(crate) fn find(deps: &[Vec<u32>], users: &[u32], names: &[&[u8]]) -> (Vec<Vec<u8>>, usize) {
    let mut roots: Vec<u32> = (0..deps.len() as u32)
        .filter(|&m| users[m as usize] > 0)
        .collect();
    let mut visited = vec![false; deps.len()];
    let mut on_cycles: FastMap<u32, ()> = FastMap::default();
    let mut lines = Vec::new();
    let mut steps = 0usize;

    while !roots.is_empty() && steps < STEP_LIMIT {
        let root = roots.remove(0);
        let mut vertices = vec![Vertex {
            module: root,
            parent: None,
        }];
        let mut stack = vec![0usize];
        while let Some(v) = stack.pop() {
            steps += 1;
            if steps >= STEP_LIMIT {
                break;
            }
            let m = vertices[v].module;
            if visited[m as usize] && m == root {
                let chain = chain_of(&vertices, v);
                let mut line = Vec::new();
                for &c in chain.iter().rev() {
                    on_cycles.insert(c, ());
                    remove_rotating(&mut roots, c);
                    line.extend_from_slice(names[c as usize]);
                    line.extend_from_slice(b" -> ");
                }
                line.extend_from_slice(names[root as usize]);
                lines.push(line);
                continue;
            }
            visited[m as usize] = true;
            if deps[m as usize].is_empty() {
                remove_rotating(&mut roots, m);
                continue;
            }
            for &d in &deps[m as usize] {
                if d != root && on_path(&vertices, v, d) {
                    continue;
                }
                vertices.push(Vertex {
                    module: d,
                    parent: Some(v),
                });
                stack.push(vertices.len() - 1);
            }
        }
    }
    (lines, on_cycles.len())
}

/// Removes `m` from the circular list `roots`, which then starts at the
/// element that followed it (kmod's `kmod_list_remove_data`).
fn remove_rotating(roots: &mut Vec<u32>, m: u32) {
    if let Some(at) = roots.iter().position(|&r| r == m) {
        roots.remove(at);
        if !roots.is_empty() {
            let at = at % roots.len();
            roots.rotate_left(at);
        }
    }
}

/// Modules from `v`'s parent up to the walk's start.
fn chain_of(vertices: &[Vertex], v: usize) -> Vec<u32> {
    let mut chain = Vec::new();
    let mut at = vertices[v].parent;
    while let Some(p) = at {
        chain.push(vertices[p].module);
        at = vertices[p].parent;
    }
    chain
}

/// Whether `module` is `v` or one of its ancestors.
fn on_path(vertices: &[Vertex], v: usize, module: u32) -> bool {
    let mut at = Some(v);
    while let Some(p) = at {
        if vertices[p].module == module {
            return true;
        }
        at = vertices[p].parent;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cycles_through_one_module_terminate() {
        // x <-> a, x <-> b: kmod 30 never finishes this one.
        let names: Vec<&[u8]> = vec![b"x", b"a", b"b"];
        let deps = vec![vec![1, 2], vec![0], vec![0]];
        let (lines, n) = find(&deps, &[2, 1, 1], &names);
        assert_eq!(lines, [&b"x -> b -> x"[..], b"x -> a -> x"]);
        assert_eq!(n, 3);
    }
}
