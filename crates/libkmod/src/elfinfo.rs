//! What the module file says: `.modinfo` (plus the signature), the
//! `__versions` CRCs, exported symbols and the symbols it needs.
//!
//! Entries are single malloc'd records laid out as libkmod lays them out:
//! `{u64 crc; char symbol[]}` for versions and exports,
//! `{u64 crc; u8 bind; char symbol[]}` for dependency symbols,
//! `{char *value; char key[]}` for info. dracut reads dependency-symbol
//! entries with `kmod_module_symbol_get_symbol()`, which with these
//! layouts reads a valid string (the bind letter, then the name).

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use modutils_core::modinfo::{self, Field};

use crate::ffi::guard;
use crate::list::{self, KmodList};
use crate::module::{module_ref, Module};

/// A malloc'd record: `header` bytes, then `text` and a NUL.
pub(crate) fn record(header: &[u8], text: &[u8]) -> *mut c_void {
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let len = header.len() + text.len() + 1;
    // SAFETY: a fresh allocation of `len` bytes, filled completely below.
    unsafe {
        let p = libc::malloc(len).cast::<u8>();
        if p.is_null() {
            return ptr::null_mut();
        }
        ptr::copy_nonoverlapping(header.as_ptr(), p, header.len());
        ptr::copy_nonoverlapping(text.as_ptr(), p.add(header.len()), text.len());
        *p.add(len - 1) = 0;
        p.cast()
    }
}

/// The text of a record whose header is `offset` bytes; NULL for NULL.
///
/// # Safety
/// `data` is NULL or a record made by [`record`] with a header of at
/// least `offset` bytes (or a longer string there).
pub(crate) unsafe fn record_name(data: *const c_void, offset: usize) -> *const c_char {
    if data.is_null() {
        ptr::null()
    } else {
        // SAFETY: the caller's contract.
        unsafe { data.cast::<c_char>().add(offset) }
    }
}

/// The 8-byte number a record starts with; 0 for NULL.
///
/// # Safety
/// `data` is NULL or a record with an 8-byte header.
pub(crate) unsafe fn record_u64(data: *const c_void) -> u64 {
    if data.is_null() {
        0
    } else {
        // SAFETY: the caller's contract; malloc'd memory is aligned, but
        // reading unaligned costs nothing here.
        unsafe { ptr::read_unaligned(data.cast::<u64>()) }
    }
}

/// An info record: `{char *value; char key[]}` with the value after the
/// key in the same allocation.
fn info_record(field: &Field) -> *mut c_void {
    let cut = |b: &[u8]| b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())].to_vec();
    let (key, value) = (cut(&field.key), cut(&field.value));
    let head = std::mem::size_of::<*mut c_char>();
    let len = head + key.len() + 1 + value.len() + 1;
    // SAFETY: a fresh allocation of `len` bytes, filled completely below.
    unsafe {
        let p = libc::malloc(len).cast::<u8>();
        if p.is_null() {
            return ptr::null_mut();
        }
        let k = p.add(head);
        ptr::copy_nonoverlapping(key.as_ptr(), k, key.len());
        *k.add(key.len()) = 0;
        let v = k.add(key.len() + 1);
        ptr::copy_nonoverlapping(value.as_ptr(), v, value.len());
        *v.add(value.len()) = 0;
        ptr::write_unaligned(p.cast::<*mut u8>(), v);
        p.cast()
    }
}

/// Common checks of the getters: `Ok(module)` or the error to return.
///
/// # Safety
/// `m` NULL or live; `out` NULL or a pointer to the caller's list.
unsafe fn start<'a>(m: *const Module, out: *mut *mut KmodList) -> Result<&'a Module, c_int> {
    // SAFETY: the caller's contract.
    let module = unsafe { module_ref(m) }.ok_or(-libc::ENOENT)?;
    if out.is_null() {
        return Err(-libc::ENOENT);
    }
    // libkmod asserts an empty list (and aborts); refuse instead.
    // SAFETY: out points to the caller's list pointer.
    if unsafe { !(*out).is_null() } {
        return Err(-libc::EINVAL);
    }
    Ok(module)
}

/// Stores a list of records and returns their count.
///
/// # Safety
/// `out` points to the caller's list pointer.
unsafe fn finish(out: *mut *mut KmodList, records: Vec<*mut c_void>) -> c_int {
    if records.iter().any(|r| r.is_null()) {
        for r in records {
            // SAFETY: malloc'd or NULL.
            unsafe { libc::free(r) };
        }
        return -libc::ENOMEM;
    }
    let n = c_int::try_from(records.len()).unwrap_or(c_int::MAX);
    // SAFETY: the caller's contract.
    unsafe { *out = list::from_vec(records) };
    n
}

/// Runs `read` on the module's ELF image; errors as libkmod's -errno.
fn with_elf<T>(
    module: &Module,
    read: impl FnOnce(&modutils_core::elf::Elf<'_>) -> Result<T, modutils_core::elf::Error>,
) -> Result<T, c_int> {
    module.path().ok_or(-libc::ENOENT)?;
    let file = module.file()?;
    let elf = file.elf().map_err(|e| -e.errno())?;
    read(&elf).map_err(|e| -file.elf_error(e).errno())
}

pub(crate) unsafe extern "C" fn kmod_module_get_info(
    m: *const Module,
    out: *mut *mut KmodList,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: the contract of the entry point.
        let module = match unsafe { start(m, out) } {
            Ok(module) => module,
            Err(e) => return e,
        };
        let fields = if module.is_builtin() {
            module
                .ctx()
                .with_core(|core| core.builtin_fields(module.name_bytes()))
                .map_err(|e| -e)
        } else {
            module.path().ok_or(-libc::ENOENT).and_then(|_| {
                let file = module.file()?;
                modinfo::module_fields(&file).map_err(|e| -e.errno())
            })
        };
        match fields {
            // SAFETY: out checked by start.
            Ok(fields) => unsafe { finish(out, fields.iter().map(info_record).collect()) },
            Err(e) => e,
        }
    })
}

pub(crate) unsafe extern "C" fn kmod_module_info_get_key(entry: *const KmodList) -> *const c_char {
    // SAFETY: NULL or a node of an info list.
    unsafe { record_name(list::data(entry), std::mem::size_of::<*mut c_char>()) }
}

pub(crate) unsafe extern "C" fn kmod_module_info_get_value(
    entry: *const KmodList,
) -> *const c_char {
    // SAFETY: NULL or a node of an info list.
    let data = unsafe { list::data(entry) };
    if data.is_null() {
        return ptr::null();
    }
    // SAFETY: an info record starts with its value pointer.
    unsafe { ptr::read_unaligned(data.cast::<*const c_char>()) }
}

/// The body of the getters that list what a module's ELF holds: checks
/// the arguments, reads the records, and hands the list to `out`. `empty`
/// is the error an empty list is instead, for the getters that have one.
///
/// # Safety
/// `m` NULL or a live module, `out` NULL or writable.
unsafe fn elf_records(
    m: *const Module,
    out: *mut *mut KmodList,
    empty: Option<c_int>,
    read: impl FnOnce(
        &modutils_core::elf::Elf<'_>,
    ) -> Result<Vec<*mut c_void>, modutils_core::elf::Error>,
) -> c_int {
    guard(-libc::ENOMEM, || {
        // SAFETY: the caller's contract.
        let module = match unsafe { start(m, out) } {
            Ok(module) => module,
            Err(e) => return e,
        };
        match with_elf(module, read) {
            Ok(r) => match empty {
                Some(e) if r.is_empty() => e,
                // SAFETY: out checked by start.
                _ => unsafe { finish(out, r) },
            },
            Err(e) => e,
        }
    })
}

fn free_records(l: *mut KmodList) {
    guard((), || {
        // SAFETY: NULL or a live record list, freed once.
        unsafe { list::free(l, |d| libc::free(d)) }
    })
}

pub(crate) unsafe extern "C" fn kmod_module_info_free_list(l: *mut KmodList) {
    free_records(l)
}

pub(crate) unsafe extern "C" fn kmod_module_get_versions(
    m: *const Module,
    out: *mut *mut KmodList,
) -> c_int {
    // SAFETY: the contract of the entry point.
    unsafe {
        elf_records(m, out, None, |elf| {
            let versions = elf.modversions()?;
            Ok(versions
                .iter()
                .map(|v| record(&v.crc.to_ne_bytes(), v.name))
                .collect())
        })
    }
}

pub(crate) unsafe extern "C" fn kmod_module_version_get_symbol(
    entry: *const KmodList,
) -> *const c_char {
    // SAFETY: NULL or a node of a versions list.
    unsafe { record_name(list::data(entry), 8) }
}

pub(crate) unsafe extern "C" fn kmod_module_version_get_crc(entry: *const KmodList) -> u64 {
    // SAFETY: NULL or a node of a versions list.
    unsafe { record_u64(list::data(entry)) }
}

pub(crate) unsafe extern "C" fn kmod_module_versions_free_list(l: *mut KmodList) {
    free_records(l)
}

pub(crate) unsafe extern "C" fn kmod_module_get_symbols(
    m: *const Module,
    out: *mut *mut KmodList,
) -> c_int {
    // SAFETY: the contract of the entry point.
    unsafe {
        elf_records(m, out, Some(-libc::ENODATA), |elf| {
            let exports = elf.exports()?;
            Ok(exports
                .iter()
                .map(|s| record(&s.crc.to_ne_bytes(), s.name))
                .collect())
        })
    }
}

pub(crate) unsafe extern "C" fn kmod_module_symbol_get_symbol(
    entry: *const KmodList,
) -> *const c_char {
    // SAFETY: NULL or a node of a symbol list (or, as dracut does, of a
    // dependency-symbol list: still a string at offset 8).
    unsafe { record_name(list::data(entry), 8) }
}

pub(crate) unsafe extern "C" fn kmod_module_symbol_get_crc(entry: *const KmodList) -> u64 {
    // SAFETY: NULL or a node of a symbol list.
    unsafe { record_u64(list::data(entry)) }
}

pub(crate) unsafe extern "C" fn kmod_module_symbols_free_list(l: *mut KmodList) {
    free_records(l)
}

pub(crate) unsafe extern "C" fn kmod_module_get_dependency_symbols(
    m: *const Module,
    out: *mut *mut KmodList,
) -> c_int {
    // SAFETY: the contract of the entry point.
    unsafe {
        elf_records(m, out, None, |elf| {
            let imports = elf.imports()?;
            Ok(imports
                .iter()
                .map(|s| {
                    let mut head = s.crc.to_ne_bytes().to_vec();
                    head.push(if s.weak { b'W' } else { b'U' });
                    record(&head, s.name)
                })
                .collect())
        })
    }
}

pub(crate) unsafe extern "C" fn kmod_module_dependency_symbol_get_symbol(
    entry: *const KmodList,
) -> *const c_char {
    // SAFETY: NULL or a node of a dependency-symbol list.
    unsafe { record_name(list::data(entry), 9) }
}

pub(crate) unsafe extern "C" fn kmod_module_dependency_symbol_get_crc(
    entry: *const KmodList,
) -> u64 {
    // SAFETY: NULL or a node of a dependency-symbol list.
    unsafe { record_u64(list::data(entry)) }
}

pub(crate) unsafe extern "C" fn kmod_module_dependency_symbol_get_bind(
    entry: *const KmodList,
) -> c_int {
    // SAFETY: NULL or a node of a dependency-symbol list.
    let data = unsafe { list::data(entry) };
    if data.is_null() {
        return 0;
    }
    // SAFETY: the bind letter follows the 8-byte crc.
    c_int::from(unsafe { *data.cast::<u8>().add(8) })
}

pub(crate) unsafe extern "C" fn kmod_module_dependency_symbols_free_list(l: *mut KmodList) {
    free_records(l)
}
