//! The module array's order: kmod's hash-table order, then `modules.order`.

use super::fgets::{fgets_lines, LINE_MAX};
use super::hash::{permuted, table_order, FastMap, MODULE_BUCKETS};
use super::report::{text, Reporter};
use super::scan::Found;
use crate::diagnostics::{errno_of, strerror, Level};
use crate::Root;

/// The scanned modules in kmod's array order. `dirname` is the module
/// directory; files outside it (externals) have no `modules.order` entry.
pub(crate) fn module_order(
    found: Vec<Found>,
    dirname: &[u8],
    root: &Root,
    rep: &mut dyn Reporter,
) -> Vec<Found> {
    // Indexes are ordered, the modules moved once at the end.
    let mut order = table_order(&found, MODULE_BUCKETS, |m| &m.name);
    let file = text!(dirname, b"/modules.order");
    let data = match std::fs::read(root.host_bytes(&file)) {
        Ok(data) => data,
        Err(e) => {
            let msg = text!(
                b"could not open modules.order at ",
                dirname,
                b": ",
                strerror(errno_of(&e))
            );
            rep.log(Level::Warning, &msg);
            return permuted(found, order.into_iter());
        }
    };
    if found.len() <= 1 {
        return permuted(found, order.into_iter());
    }
    for (n, line) in fgets_lines(&data, LINE_MAX).enumerate() {
        if !line.is_empty() && line.last() != Some(&b'\n') {
            let msg = text!(
                file,
                b":",
                (n + 1).to_string(),
                b" corrupted line misses '\\n'"
            );
            rep.log(Level::Err, &msg);
            return permuted(found, order.into_iter());
        }
    }

    // A path two modules share names the later one in table order.
    let by_uncrelpath: FastMap<&[u8], usize> = order
        .iter()
        .filter_map(|&i| uncompressed_relpath(&found[i], dirname).map(|p| (p, i)))
        .collect();
    // Listed modules sort by line number, before all others, which keep
    // their hash order (kmod's qsort is a stable merge sort here). The first
    // line naming a module counts (kmod 34; 33 and older used the last).
    let mut rank: Vec<Option<usize>> = vec![None; found.len()];
    for (n, line) in fgets_lines(&data, LINE_MAX).enumerate() {
        let Some(path) = line.strip_suffix(b"\n") else {
            continue;
        };
        if let Some(&i) = by_uncrelpath.get(path) {
            rank[i].get_or_insert(n);
        }
    }
    order.sort_by_key(|&i| rank[i].map_or((1, 0), |n| (0, n)));
    permuted(found, order.into_iter())
}

/// The path `modules.order` names a module by: its path relative to the
/// module directory with the compression suffix cut back to `.ko`. kmod
/// computes it by length (directory, then as many bytes as the module name
/// plus three), so a file name with extra dots is cut short the same way.
pub(crate) fn uncompressed_relpath<'a>(m: &'a Found, dirname: &[u8]) -> Option<&'a [u8]> {
    let start = relpath_start(&m.path, dirname)?;
    let end = (m.dir_len + 1 + m.name.len() + 3).min(m.path.len());
    m.path.get(start..end)
}

/// Where the path relative to the module directory begins, if the file is
/// inside it.
pub(crate) fn relpath_start(path: &[u8], dirname: &[u8]) -> Option<usize> {
    (path.starts_with(dirname) && path.get(dirname.len()) == Some(&b'/'))
        .then_some(dirname.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncompressed_relpath_cuts_by_length() {
        let m = Found::new(b"/m/kernel/ff.bar.ko".to_vec(), None);
        assert_eq!(uncompressed_relpath(&m, b"/m"), Some(&b"kernel/ff.ba"[..]));
        let m = Found::new(b"/m/kernel/a-b.ko.xz".to_vec(), None);
        assert_eq!(uncompressed_relpath(&m, b"/m"), Some(&b"kernel/a-b.ko"[..]));
        let m = Found::new(b"/ext/a.ko".to_vec(), None);
        assert_eq!(uncompressed_relpath(&m, b"/m"), None);
    }
}
