//! Differential: our fnmatch against glibc's `fnmatch(pattern, string, 0)`
//! in the C locale. Input: pattern, NUL, string.
#![no_main]

use std::ffi::CString;

use libfuzzer_sys::fuzz_target;
use modutils_core::fnmatch::fnmatch;

fuzz_target!(|data: &[u8]| {
    let (pattern, string) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let string = string.split(|&b| b == 0).next().unwrap_or(&[]);
    let ours = fnmatch(pattern, string);
    // glibc backtracks over every star: keep its cost bounded.
    let stars = pattern.iter().filter(|&&b| b == b'*').count();
    if stars > 6 && string.len() > 64 {
        return;
    }
    let p = CString::new(pattern).unwrap();
    let s = CString::new(string).unwrap();
    // SAFETY: both are NUL-terminated strings that outlive the call.
    let theirs = unsafe { libc::fnmatch(p.as_ptr(), s.as_ptr(), 0) } == 0;
    assert_eq!(
        ours,
        theirs,
        "pattern {:?} string {:?}",
        String::from_utf8_lossy(pattern),
        String::from_utf8_lossy(string)
    );
});
