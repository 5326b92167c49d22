//! Text trees for `lsmod --tree` and `modprobe --show-depends --tree`.

/// Renders a forest: each root on its own line, then its children, drawn
/// with box characters. A module used by several others appears under
/// each of them, its subtree repeated. A node that would repeat one of its
/// ancestors (a cycle, which the kernel never reports) is shown once more,
/// marked, and not descended into. Labels are bytes (module names need
/// not be UTF-8) and are printed as they are.
pub fn render<T: Copy + PartialEq, L: AsRef<[u8]>>(
    roots: &[T],
    label: impl Fn(T) -> L,
    children: impl Fn(T) -> Vec<T>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    for &root in roots {
        node(&mut out, root, "", None, &mut path, &label, &children);
    }
    out
}

/// `last`: None for a root, else whether this is its parent's last child.
fn node<T: Copy + PartialEq, L: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    id: T,
    prefix: &str,
    last: Option<bool>,
    path: &mut Vec<T>,
    label: &impl Fn(T) -> L,
    children: &impl Fn(T) -> Vec<T>,
) {
    let (branch, next_prefix) = match last {
        None => ("", String::new()),
        Some(false) => ("├─ ", format!("{prefix}│  ")),
        Some(true) => ("└─ ", format!("{prefix}   ")),
    };
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(branch.as_bytes());
    out.extend_from_slice(label(id).as_ref());
    if path.contains(&id) {
        out.extend_from_slice(b" (cycle)\n");
        return;
    }
    out.push(b'\n');
    path.push(id);
    let kids = children(id);
    for (i, &k) in kids.iter().enumerate() {
        let is_last = i + 1 == kids.len();
        node(out, k, &next_prefix, Some(is_last), path, label, children);
    }
    path.pop();
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn draws_nested_children_and_cycles() {
        // 0 uses 1 and 2; 1 uses 3; 3 uses 1 (a cycle).
        let kids = |n: usize| match n {
            0 => vec![1, 2],
            1 => vec![3],
            3 => vec![1],
            _ => vec![],
        };
        let text = render(&[0, 2], |n| format!("m{n}"), kids);
        let want = "m0\n├─ m1\n│  └─ m3\n│     └─ m1 (cycle)\n└─ m2\nm2\n";
        assert_eq!(text, want.as_bytes());
    }
}
