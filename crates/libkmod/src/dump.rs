//! `kmod_dump_index`: every key and value of one index, written to a
//! file descriptor.

use std::ffi::c_int;

use modutils_core::context::IndexKind;

use crate::ctx::{ctx_ref, Ctx};
use crate::ffi::guard;

/// libkmod's `enum kmod_index` in its order.
const KINDS: [IndexKind; 5] = [
    IndexKind::Dep,
    IndexKind::Alias,
    IndexKind::Symbols,
    IndexKind::BuiltinAlias,
    IndexKind::Builtin,
];

/// The dump text. Values of one key come in file order from a loaded
/// index; read from the file for this call alone, libkmod sorts them by
/// priority, ties in reverse file order — kept here for byte parity.
fn dump_text(index: &modutils_core::index::Index, prefix: &[u8], loaded: bool) -> Option<Vec<u8>> {
    let mut entries: Vec<(Vec<u8>, Vec<u8>, u32)> = Vec::new();
    index
        .for_each_raw(|k, v, p| entries.push((k.to_vec(), v.to_vec(), p)))
        .ok()?;
    if !loaded {
        let mut start = 0;
        while start < entries.len() {
            let end = start
                + entries[start..]
                    .iter()
                    .take_while(|e| e.0 == entries[start].0)
                    .count();
            let group = &mut entries[start..end];
            group.reverse();
            group.sort_by_key(|e| e.2);
            start = end;
        }
    }
    let mut out = Vec::new();
    for (k, v, _) in &entries {
        for part in [prefix, k, b" ", v, b"\n"] {
            out.extend_from_slice(part);
        }
    }
    Some(out)
}

/// Raw writes of at most 4 KiB each, errors ignored as in libkmod.
fn write_all(fd: c_int, bytes: &[u8]) {
    for chunk in bytes.chunks(4096) {
        let mut rest = chunk;
        while !rest.is_empty() {
            // SAFETY: writes from a valid buffer of the given length.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                return;
            }
            rest = &rest[n as usize..];
        }
    }
}

pub(crate) unsafe extern "C" fn kmod_dump_index(ctx: *mut Ctx, kind: u32, fd: c_int) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: NULL or live.
        let Some(c) = (unsafe { ctx_ref(ctx) }) else {
            return -libc::ENOSYS;
        };
        let Some(&index_kind) = KINDS.get(kind as usize) else {
            return -libc::ENOENT;
        };
        let prefix: &[u8] = match index_kind {
            IndexKind::Alias | IndexKind::Symbols => b"alias ",
            _ => b"",
        };
        let loaded = c.resources_loaded();
        let text = c.with_core(|core| {
            core.index(index_kind)
                .and_then(|i| dump_text(i, prefix, loaded))
        });
        match text {
            Some(t) => {
                write_all(fd, &t);
                0
            }
            None => -libc::ENOSYS,
        }
    })
}
