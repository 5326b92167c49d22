//! Differential tests: our `fnmatch` against glibc's `fnmatch(p, s, 0)`.
//!
//! glibc is the oracle because kmod calls it; any disagreement here is a
//! module that would resolve differently. Real kernel alias patterns are
//! covered by `index_real_tree.rs`.

use std::ffi::CString;

use modutils_core::fnmatch::fnmatch;

use crate::common::all_strings;
use modutils_test_support::rng::Rng;

fn glibc(pattern: &[u8], string: &[u8]) -> bool {
    let p = CString::new(pattern).expect("NUL-free pattern");
    let s = CString::new(string).expect("NUL-free string");
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    unsafe { libc::fnmatch(p.as_ptr(), s.as_ptr(), 0) == 0 }
}

/// Compares one pair, returning a readable description on disagreement.
fn differs(pattern: &[u8], string: &[u8]) -> Option<String> {
    let ours = fnmatch(pattern, string);
    let theirs = glibc(pattern, string);
    (ours != theirs).then(|| {
        format!(
            "pattern {:?} string {:?}: ours {ours}, glibc {theirs}",
            String::from_utf8_lossy(pattern),
            String::from_utf8_lossy(string)
        )
    })
}

fn assert_no_differences(failures: Vec<String>, tried: usize) {
    assert!(
        failures.is_empty(),
        "{} of {tried} cases differ from glibc, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

fn check_posixly_correct_unset() {
    // glibc stops treating `[^` as negation when POSIXLY_CORRECT is set;
    // kmod runs without it, and so must this comparison.
    assert!(
        std::env::var_os("POSIXLY_CORRECT").is_none(),
        "unset POSIXLY_CORRECT to run the glibc comparison"
    );
}

const TRICKY: &[(&str, &str)] = &[
    ("", ""),
    ("", "a"),
    ("*", ""),
    ("?", ""),
    ("a*", "a"),
    ("*a", "ba"),
    ("a*b*c", "aXbYc"),
    ("*?", ""),
    ("*??", "a"),
    ("**a", "ba"),
    ("[]", "]"),
    ("[]]", "]"),
    ("[]a]", "a"),
    ("[!]]", "]"),
    ("[!]]", "a"),
    ("[^]]", "a"),
    ("[!a]", "a"),
    ("[^a]", "b"),
    ("[a-c]", "b"),
    ("[c-a]", "b"),
    ("[a-]", "-"),
    ("[-a]", "-"),
    ("[a-c-e]", "d"),
    ("[a-c-e]", "-"),
    ("[!-]", "-"),
    ("[\\]]", "]"),
    ("[\\]", "\\"),
    ("[\\", "[\\"),
    ("[a\\-c]", "b"),
    ("[a-\\c]", "b"),
    ("[a-\\]", "a"),
    ("\\", "\\"),
    ("a\\", "a\\"),
    ("\\a", "a"),
    ("\\*", "*"),
    ("\\*", "a"),
    ("*\\", "x\\"),
    ("*\\*", "x*"),
    ("[", "["),
    ("[a", "[a"),
    ("[a", "a"),
    ("[[", "[["),
    ("[[", "["),
    ("[a-", "a"),
    ("[a-", "[a-"),
    ("[!", "[!"),
    ("*[", "x["),
    ("*[a", "x[a"),
    ("[[:alpha:]]", "x"),
    ("[[:alpha:]]", "1"),
    ("[[:digit:][:upper:]]", "Q"),
    ("[![:space:]]", " "),
    ("[[:space:]]", "\u{b}"),
    ("[[:blank:]]", "\t"),
    ("[[:punct:]]", "_"),
    ("[[:xdigit:]]", "f"),
    ("[[:cntrl:]]", "\u{7f}"),
    ("[[:print:]]", " "),
    ("[[:graph:]]", " "),
    ("[[:foo:]]", "f"),
    ("[a[:foo:]]", "a"),
    ("[[:alpha:]", "a"),
    ("[[:alpha:]", "[:alpha:"),
    ("[[:ALPHA:]]", "a"),
    ("[[:alpha]", "a"),
    ("[[:alpha]", ":"),
    ("[[:zeta:]]", "z"),
    ("[x[:zzz]", "x"),
    ("[x[:zzz:]]", "x"),
    ("[[:]]", ":"),
    ("[[:]]", "]"),
    ("[[=a=]]", "a"),
    ("[[=a=]]", "b"),
    ("[[=a]", "a"),
    ("[[=a]", "="),
    ("[[=]", "="),
    ("[a[=]", "a"),
    ("[a[=b]]", "a"),
    ("[[.a.]]", "a"),
    ("[[.a.]-c]", "b"),
    ("[a-[.c.]]", "b"),
    ("[[.a.]-]", "a"),
    ("[[.a.]-]", "-"),
    ("[[.ab.]]", "a"),
    ("[[.a]", "a"),
    ("[a[.b]", "a"),
    ("[[..]]", "."),
    ("[[...]]", "."),
    ("[[.-.]]", "-"),
    ("[[:alpha:]-z]", "-"),
    ("[a-[:alpha:]]", "b"),
    ("*[[:digit:]]*", "abc3def"),
    (
        "pci:v*d*sv*sd*bc02sc00i*",
        "pci:v00008086d00001502sv00001028sd000005CDbc02sc00i00",
    ),
    (
        "usb:v*p*d*dc*dsc*dp*ic03isc01ip01in*",
        "usb:v046Dp(C52B)d1211dc00dsc00dp00ic03isc01ip01in00",
    ),
    ("acpi*:PNP0C0A:*", "acpi:PNP0C0A:PNP0A03:"),
    ("of:N*T*Cfsl,mpc5200-gpt", "of:NgptTsocCfsl,mpc5200-gpt"),
    (
        "dmi*:svn*ASUSTeK*:pn*N550J[VW]*",
        "dmi:bvnX:svnASUSTeKCOMPUTERINC.:pnN550JV:",
    ),
];

#[test]
fn tricky_cases() {
    check_posixly_correct_unset();
    let failures: Vec<String> = TRICKY
        .iter()
        .filter_map(|(p, s)| differs(p.as_bytes(), s.as_bytes()))
        .collect();
    assert_no_differences(failures, TRICKY.len());
}

#[test]
fn high_bytes() {
    check_posixly_correct_unset();
    let patterns: &[&[u8]] = &[
        b"[\x01-\xff]",
        b"[\x80-\xff]",
        b"[!\x80]",
        b"[[:alpha:]]",
        b"[[:print:]]",
        b"[[:graph:]]",
        b"[[:punct:]]",
        b"[[:cntrl:]]",
        b"[[:space:]]",
        b"[[:upper:]]",
        b"[[:lower:]]",
        b"[[:alnum:]]",
        b"[[:xdigit:]]",
        b"[[:blank:]]",
        b"[[:digit:]]",
        b"\xe9*",
        b"*\xff",
        b"?",
        b"[[=\xe9=]]",
        b"[[.\xe9.]]",
        b"[a-\xe9]",
    ];
    let mut failures = Vec::new();
    let mut tried = 0;
    for pattern in patterns {
        for byte in 1..=255u8 {
            tried += 1;
            failures.extend(differs(pattern, &[byte]));
        }
    }
    assert_no_differences(failures, tried);
}

#[test]
fn class_name_length_limit() {
    check_posixly_correct_unset();
    let mut failures = Vec::new();
    let mut tried = 0;
    for n in (0..8).chain(2040..2056) {
        let name = "a".repeat(n);
        for (p, s) in [
            (format!("[[:{name}]"), "["),
            (format!("[[:{name}:]]"), "a"),
            (format!("[x[:{name}]"), "x"),
            (format!("[x[:{name}:]]"), "x"),
        ] {
            tried += 1;
            failures.extend(differs(p.as_bytes(), s.as_bytes()));
        }
    }
    assert_no_differences(failures, tried);
}

/// Every pattern of up to 4 symbols over a bracket-heavy alphabet against
/// every string of up to 3 bytes over a small one.
#[test]
fn exhaustive_short() {
    check_posixly_correct_unset();
    let pattern_alphabet = b"a-*?[]!^\\:";
    let string_alphabet = b"a-]:[";
    let patterns = all_strings(pattern_alphabet, 4);
    let strings = all_strings(string_alphabet, 3);
    let mut failures = Vec::new();
    for p in &patterns {
        for s in &strings {
            failures.extend(differs(p, s));
        }
    }
    assert_no_differences(failures, patterns.len() * strings.len());
}

/// Random patterns built from pieces that exercise every bracket feature.
#[test]
fn random_patterns() {
    check_posixly_correct_unset();
    const PIECES: &[&[u8]] = &[
        b"a",
        b"b",
        b"-",
        b"*",
        b"?",
        b"[",
        b"]",
        b"!",
        b"^",
        b"\\",
        b":",
        b".",
        b"=",
        b"[:alpha:]",
        b"[:digit:]",
        b"[:foo:]",
        b"[.a.]",
        b"[=b=]",
        b"[.",
        b"[:",
        b"[=",
        b"a-b",
        b"\xe9",
        b"z",
    ];
    const STRING_BYTES: &[u8] = b"ab-]:[.=!^\\*?1z\xe9";
    let mut rng = Rng(0x6b6d_6f64_2d66_6e6d);
    let mut failures = Vec::new();
    let cases = 300_000;
    for _ in 0..cases {
        let mut pattern = Vec::new();
        for _ in 0..rng.below(9) {
            let piece: &[u8] = PIECES[rng.below(PIECES.len())];
            pattern.extend_from_slice(piece);
        }
        let string: Vec<u8> = (0..rng.below(8)).map(|_| *rng.pick(STRING_BYTES)).collect();
        failures.extend(differs(&pattern, &string));
        // Also try a string that has a fair chance to match: the pattern
        // with its metacharacters replaced.
        let derived: Vec<u8> = pattern
            .iter()
            .filter(|&&c| c != b'\\')
            .map(|&c| match c {
                b'*' | b'?' => *rng.pick(STRING_BYTES),
                c => c,
            })
            .collect();
        failures.extend(differs(&pattern, &derived));
    }
    assert_no_differences(failures, cases * 2);
}

#[test]
fn nul_ends_both_inputs() {
    assert!(fnmatch(b"ab\0cd", b"ab"));
    assert!(fnmatch(b"ab", b"ab\0zz"));
    assert!(fnmatch(b"a*\0x", b"abc\0"));
}

#[test]
fn hostile_patterns_stay_fast() {
    let start = crate::common::cpu::CpuTimer::start();
    let pattern = "*a".repeat(200) + "b";
    let string = "a".repeat(20_000);
    assert!(!fnmatch(pattern.as_bytes(), string.as_bytes()));
    let pattern = "*[a-z]?".repeat(100) + "[!a]";
    assert!(!fnmatch(pattern.as_bytes(), string.as_bytes()));
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}
