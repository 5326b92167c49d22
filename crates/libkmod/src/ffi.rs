//! Helpers for the C boundary: panics, C strings, errno values.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs an entry point's body; a panic (a bug, never an input) becomes
/// `fallback`, the error the function documents, instead of unwinding
/// into C, which would be undefined behaviour.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The bytes of a C string argument; `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn arg<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: the caller's contract.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// A C string of `bytes`, cut at the first NUL as C would read it.
pub(crate) fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// `-errno` of an I/O error (EIO when it carries none).
pub(crate) fn neg_errno(e: &std::io::Error) -> i32 {
    -modutils_core::diagnostics::errno_of(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_fallback() {
        assert_eq!(guard(-5, || -> i32 { panic!("a bug") }), -5);
        assert_eq!(guard(-5, || 3), 3);
    }

    #[test]
    fn c_strings_end_at_the_first_nul() {
        assert_eq!(c_string(b"ab\0cd").as_bytes(), b"ab");
        assert_eq!(c_string(b"\xff\xfe").as_bytes(), b"\xff\xfe");
    }
}
