//! Differential: our depmod.d KVER matcher against glibc's
//! `regcomp(REG_EXTENDED | REG_NOSUB)` + `regexec`. Input: pattern, NUL,
//! version.
//!
//! Our matcher runs on every input (it must stay fast on all of them);
//! glibc only on inputs it handles cheaply: patterns of at most 16 bytes
//! whose repetition operators multiply to a small number, since glibc copies
//! what `+` and `{m,n}` repeat (12 stacked `+` take it 7.5 s). Copies of
//! what can match the empty string, or of anchors, cost glibc far more:
//! `^z*+++++` and `z*{0,9}{0,9}+` each keep its regcomp busy for minutes.
//! So a pattern with anything that can (`*`, `?`, `{`, `|`, groups,
//! anchors, escapes) may multiply to 4 at most, and to 2 with an anchor.
//! The documented differences are skipped: a valid back-reference, and an
//! anchor glibc applies on some paths only (ours match nothing).
#![no_main]

use std::ffi::CString;
use std::mem::MaybeUninit;

use libfuzzer_sys::fuzz_target;
use modutils_core::config::kver::{KverError, KverPattern};

/// What glibc's compiled form is multiplied by, at most: `+` doubles what
/// it repeats, `{m,n}` copies it n times (escapes and brackets are counted
/// too, which only overestimates).
fn glibc_copies(pattern: &[u8]) -> u64 {
    let mut copies: u64 = 1;
    for (i, &c) in pattern.iter().enumerate() {
        match c {
            b'+' => copies = copies.saturating_mul(2),
            b'{' => {
                // The largest number before the next `}`, plus one (`{m,}`
                // is m copies and a starred one).
                let (mut n, mut largest) = (0u64, 0u64);
                for &c in pattern[i + 1..].iter().take_while(|&&c| c != b'}') {
                    if c.is_ascii_digit() {
                        n = n.saturating_mul(10).saturating_add(u64::from(c - b'0'));
                    } else if c == b',' {
                        n = 0;
                    }
                    largest = largest.max(n);
                }
                copies = copies.saturating_mul(largest + 1);
            }
            _ => {}
        }
    }
    copies
}

/// How far [`glibc_copies`] may go for `pattern`; see the top of the file.
fn copies_allowed(pattern: &[u8]) -> u64 {
    let anchored = pattern.iter().any(|&c| matches!(c, b'^' | b'$' | b'\\'));
    let nullable = pattern
        .iter()
        .any(|&c| matches!(c, b'*' | b'?' | b'{' | b'|' | b'(' | b')'));
    match (anchored, nullable) {
        (true, _) => 2,
        (false, true) => 4,
        (false, false) => 1000,
    }
}

/// Any bound above 9 (glibc reads `\0` as a digit there, so backslashes
/// are ignored).
fn has_large_bound(pattern: &[u8]) -> bool {
    let digits: Vec<u8> = pattern.iter().copied().filter(|&c| c != b'\\').collect();
    digits
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && w[1].is_ascii_digit())
}

fn glibc(pattern: &[u8], version: &[u8]) -> bool {
    let (Ok(p), Ok(v)) = (CString::new(pattern), CString::new(version)) else {
        return false;
    };
    let mut re = MaybeUninit::<libc::regex_t>::uninit();
    // SAFETY: NUL-terminated strings; `re` is used and freed only when
    // regcomp initialised it.
    unsafe {
        if libc::regcomp(
            re.as_mut_ptr(),
            p.as_ptr(),
            libc::REG_EXTENDED | libc::REG_NOSUB,
        ) != 0
        {
            return false;
        }
        let found = libc::regexec(re.as_ptr(), v.as_ptr(), 0, std::ptr::null_mut(), 0) == 0;
        libc::regfree(re.as_mut_ptr());
        found
    }
}

fuzz_target!(|data: &[u8]| {
    let (pattern, version) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let version = version.split(|&b| b == 0).next().unwrap_or(&[]);
    let compiled = KverPattern::new(pattern);
    let ours = compiled.as_ref().is_ok_and(|p| p.is_match(version));
    if matches!(
        compiled,
        Err(KverError::Backreference | KverError::CopiedAnchor)
    ) || compiled.as_ref().is_ok_and(|p| p.refuses(version))
        || pattern.len() > 16
        || version.len() > 256
        || has_large_bound(pattern)
        || glibc_copies(pattern) > copies_allowed(pattern)
    {
        return;
    }
    let theirs = glibc(pattern, version);
    assert_eq!(
        ours,
        theirs,
        "pattern {:?} version {:?}: ours {:?}",
        String::from_utf8_lossy(pattern),
        String::from_utf8_lossy(version),
        compiled.err()
    );
});
