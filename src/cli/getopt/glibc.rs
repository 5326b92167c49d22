//! Differential tests: the same argv through the C library's getopt_long
//! and through `Parser`, comparing returned options, values, optopt on
//! errors, the operands left after permutation, and the exact bytes glibc
//! writes to stderr.

use std::ffi::{c_char, c_int, CString, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::Mutex;

use super::tables::{DEPMOD, INSMOD, KMOD, LSMOD, MODINFO, MODPROBE, STATIC_NODES, SYNTHETIC};
use super::{Ordering, Parser};
use crate::cli::{ErrorKind, HasArg, Opt};

// The libc crate does not declare these for Linux.
extern "C" {
    static mut optind: c_int;
    static mut opterr: c_int;
    static mut optopt: c_int;
    static mut optarg: *mut c_char;
}

/// getopt_long keeps global state; one caller at a time.
static GLIBC: Mutex<()> = Mutex::new(());

#[derive(Debug, PartialEq)]
enum Event {
    Opt(i32, Option<Vec<u8>>),
    /// '?' with the optopt glibc set.
    Error(i32),
}

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    operands: Vec<Vec<u8>>,
    stderr: Vec<u8>,
}

fn optstring(table: &[Opt<i32>], ordering: Ordering) -> CString {
    let mut s = String::new();
    if ordering == Ordering::RequireOrder {
        s.push('+');
    }
    for o in table {
        let Some(c) = o.short.filter(|c| !s.contains(*c)) else {
            continue;
        };
        s.push(c);
        s.push_str(match o.arg {
            HasArg::No => "",
            HasArg::Required => ":",
            HasArg::Optional => "::",
        });
    }
    CString::new(s).unwrap()
}

/// Run glibc with stderr redirected to `capture`.
fn glibc(table: &[Opt<i32>], ordering: Ordering, argv: &[Vec<u8>], capture: &mut File) -> Outcome {
    let optstring = optstring(table, ordering);
    let names: Vec<(CString, &Opt<i32>)> = table
        .iter()
        .flat_map(|o| o.long.iter().map(move |n| (CString::new(*n).unwrap(), o)))
        .collect();
    let mut longopts: Vec<libc::option> = names
        .iter()
        .map(|(name, o)| libc::option {
            name: name.as_ptr(),
            has_arg: match o.arg {
                HasArg::No => 0,
                HasArg::Required => 1,
                HasArg::Optional => 2,
            },
            flag: std::ptr::null_mut(),
            val: o.id,
        })
        .collect();
    longopts.push(libc::option {
        name: std::ptr::null(),
        has_arg: 0,
        flag: std::ptr::null_mut(),
        val: 0,
    });
    let owned: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.clone()).unwrap())
        .collect();
    let mut ptrs: Vec<*mut c_char> = owned.iter().map(|a| a.as_ptr().cast_mut()).collect();
    ptrs.push(std::ptr::null_mut());
    let argc = argv.len() as c_int;

    let _lock = GLIBC.lock().unwrap_or_else(|e| e.into_inner());
    capture.set_len(0).unwrap();
    capture.seek(SeekFrom::Start(0)).unwrap();
    let mut events = Vec::new();
    // SAFETY: the globals are only touched under GLIBC; argv and longopts
    // outlive the calls; fd 2 is restored before anything can panic.
    let end = unsafe {
        let saved = libc::dup(2);
        libc::dup2(capture.as_raw_fd(), 2);
        optind = 0; // full re-initialisation, including the ordering
        opterr = 1;
        let idx = std::ptr::null_mut();
        loop {
            let r = libc::getopt_long(
                argc,
                // glibc permutes the pointer array in place.
                ptrs.as_mut_ptr(),
                optstring.as_ptr(),
                longopts.as_ptr(),
                idx,
            );
            match r {
                -1 => break,
                r if r == '?' as c_int => events.push(Event::Error(optopt)),
                r => {
                    let v = (!optarg.is_null())
                        .then(|| std::ffi::CStr::from_ptr(optarg).to_bytes().to_vec());
                    events.push(Event::Opt(r, v));
                }
            }
        }
        libc::dup2(saved, 2);
        libc::close(saved);
        optind
    };
    let start = (end.max(0) as usize).min(argv.len());
    // SAFETY: glibc only permuted pointers to our CStrings.
    let operands = ptrs[start..argv.len()]
        .iter()
        .map(|&p| unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes().to_vec())
        .collect();
    let mut stderr = Vec::new();
    capture.seek(SeekFrom::Start(0)).unwrap();
    capture.read_to_end(&mut stderr).unwrap();
    Outcome {
        events,
        operands,
        stderr,
    }
}

/// What glibc would have put in optopt for this error.
fn optopt_of(table: &[Opt<i32>], kind: &ErrorKind) -> i32 {
    match kind {
        // glibc stores a plain (signed) char.
        ErrorKind::InvalidOption { byte } => *byte as i8 as i32,
        ErrorKind::ShortMissingArgument { short } => *short as i32,
        ErrorKind::UnrecognizedOption { .. } | ErrorKind::AmbiguousOption { .. } => 0,
        ErrorKind::LongMissingArgument { opt, .. } | ErrorKind::UnexpectedArgument { opt, .. } => {
            table[*opt].id
        }
    }
}

fn ours(table: &[Opt<i32>], ordering: Ordering, argv: &[Vec<u8>]) -> Outcome {
    let argv: Vec<OsString> = argv.iter().map(|a| OsString::from_vec(a.clone())).collect();
    let mut p = Parser::new(table, argv).ordering(ordering);
    let mut events = Vec::new();
    let mut stderr = Vec::new();
    for item in p.by_ref() {
        events.push(match item {
            Ok((id, v)) => Event::Opt(id, v.map(|v| v.as_bytes().to_vec())),
            Err(e) => {
                stderr.extend_from_slice(e.message());
                stderr.push(b'\n');
                Event::Error(optopt_of(table, &e.kind))
            }
        });
    }
    let operands = p.operands().into_iter().map(OsString::into_vec).collect();
    Outcome {
        events,
        operands,
        stderr,
    }
}

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIXED: &[&[u8]] = &[
    b"--",
    b"-",
    b"",
    b"x",
    b"mod",
    b"a=b",
    b"--foo",
    b"--foo=bar",
    b"---",
    b"-=",
    b"--=",
    b"--=x",
    b"-\xc3\xa9",
    b"\xff",
    b"-\xff",
    b"--\xff",
    b"-:",
    b"-+",
    b"-;",
    b"-W",
    b"-?",
    b"-W foo",
    b"--h",
    b"--ver",
    b"--v=",
    b"-- ",
];

/// One random element built from the table's names, or a fixed oddity.
fn token(rng: &mut Rng, table: &[Opt<i32>]) -> Vec<u8> {
    let shorts: Vec<u8> = table
        .iter()
        .filter_map(|o| o.short)
        .map(|c| c as u8)
        .collect();
    let longs: Vec<&str> = table.iter().flat_map(|o| o.long.iter().copied()).collect();
    match rng.below(10) {
        0..=2 => rng.pick(FIXED).to_vec(),
        3..=5 if !shorts.is_empty() => {
            let mut t = vec![b'-'];
            for _ in 0..=rng.below(3) {
                t.push(if rng.below(8) == 0 {
                    b'y'
                } else {
                    *rng.pick(&shorts)
                });
            }
            if rng.below(3) == 0 {
                t.extend_from_slice(b"val");
            }
            t
        }
        6..=8 => {
            let name = rng.pick(&longs).as_bytes();
            let mut t = b"--".to_vec();
            t.extend_from_slice(&name[..rng.below(name.len() + 1)]);
            match rng.below(4) {
                0 => t.extend_from_slice(b"=v"),
                1 => t.push(b'='),
                _ => {}
            }
            t
        }
        _ => rng.pick(&[&b"m1"[..], b"m2", b"/p", b"k=v"]).to_vec(),
    }
}

fn argv0(rng: &mut Rng) -> Vec<u8> {
    rng.pick(&[&b"modprobe"[..], b"/sbin/modprobe", b"./a b", b"\xfeprog"])
        .to_vec()
}

/// How many runs exercised what, so a harness that silently compares
/// nothing (say, stderr not captured) fails instead of passing.
#[derive(Debug, Default)]
struct Tally {
    runs: usize,
    with_error_text: usize,
    with_options: usize,
    with_operands: usize,
}

fn check(
    table: &[Opt<i32>],
    ordering: Ordering,
    argv: &[Vec<u8>],
    capture: &mut File,
    tally: &mut Tally,
) {
    let theirs = glibc(table, ordering, argv, capture);
    let mine = ours(table, ordering, argv);
    let shown: Vec<_> = argv.iter().map(|a| String::from_utf8_lossy(a)).collect();
    assert_eq!(mine, theirs, "argv {shown:?}, ordering {ordering:?}");
    tally.runs += 1;
    tally.with_error_text += usize::from(!theirs.stderr.is_empty());
    let has_opt = theirs.events.iter().any(|e| matches!(e, Event::Opt(..)));
    tally.with_options += usize::from(has_opt);
    tally.with_operands += usize::from(!theirs.operands.is_empty());
}

fn assert_exercised(t: &Tally) {
    println!("{t:?}");
    for n in [t.with_error_text, t.with_options, t.with_operands] {
        assert!(n * 10 >= t.runs, "{t:?}");
    }
}

type Case = (&'static [Opt<i32>], Ordering);

const TABLES: &[Case] = &[
    (MODPROBE, Ordering::Permute),
    (MODPROBE, Ordering::RequireOrder),
    (INSMOD, Ordering::Permute),
    (LSMOD, Ordering::Permute),
    (MODINFO, Ordering::Permute),
    (DEPMOD, Ordering::Permute),
    (KMOD, Ordering::RequireOrder),
    (STATIC_NODES, Ordering::Permute),
    (SYNTHETIC, Ordering::Permute),
    (SYNTHETIC, Ordering::RequireOrder),
];

const RANDOM_PER_TABLE: usize = 4000;

/// Deterministic pseudo-random command lines for every table.
#[test]
fn random_command_lines_match_glibc() {
    // glibc would switch to require-order itself; keep the runs comparable.
    assert!(
        std::env::var_os("POSIXLY_CORRECT").is_none(),
        "unset POSIXLY_CORRECT to run"
    );
    let mut capture = tempfile::tempfile().unwrap();
    let mut rng = Rng(0x6b6d_6f64);
    let mut tally = Tally::default();
    for &(table, ordering) in TABLES {
        for _ in 0..RANDOM_PER_TABLE {
            let mut argv = vec![argv0(&mut rng)];
            for _ in 0..rng.below(8) {
                argv.push(token(&mut rng, table));
            }
            check(table, ordering, &argv, &mut capture, &mut tally);
        }
    }
    assert_exercised(&tally);
}

/// Hand-picked corners, each with every table.
#[test]
fn edge_cases_match_glibc() {
    assert!(
        std::env::var_os("POSIXLY_CORRECT").is_none(),
        "unset POSIXLY_CORRECT to run"
    );
    let cases: &[&[&[u8]]] = &[
        &[],
        &[b"p"],
        &[b"p", b"--"],
        &[b"p", b"--", b"--"],
        &[b"p", b"a", b"--", b"-v", b"b"],
        &[b"p", b"a", b"-v", b"b", b"-v", b"--", b"c"],
        &[b"p", b"-C"],
        &[b"p", b"a", b"-C"],
        &[b"p", b"-C", b"--"],
        &[b"p", b"-vC"],
        &[b"p", b"-vCx", b"y"],
        &[b"p", b"--config"],
        &[b"p", b"--config", b"--"],
        &[b"p", b"--config="],
        &[b"p", b"--ignore"],
        &[b"p", b"--ignore="],
        &[b"p", b"--s"],
        &[b"p", b"--show"],
        &[b"p", b"--show="],
        &[b"p", b"--=x"],
        &[b"p", b"--="],
        &[b"p", b"-"],
        &[b"p", b"-", b"-v"],
        &[b"p", b""],
        &[b"p", b"-\xc3\xa9v"],
        &[b"p", b"-xyz", b"m", b"--nope", b"--al=1", b"-q"],
        &[b"p", b"--ab"],
        &[b"p", b"--abf"],
        &[b"p", b"--op=1"],
        &[
            b"p", b"-o", b"v", b"-ov", b"--opt", b"w", b"--opt=", b"--xxy=2", b"--xx",
        ],
        &[b"p", b"--q", b"--qq"],
        &[b"p", b"--qq"],
        &[b"p", b"-Z"],
        &[b"\xff", b"-Q"],
        &[b"p", b"m", b"-V", b"list", b"-h"],
    ];
    let mut capture = tempfile::tempfile().unwrap();
    let mut tally = Tally::default();
    for &(table, ordering) in TABLES {
        for case in cases {
            let argv: Vec<Vec<u8>> = case.iter().map(|a| a.to_vec()).collect();
            check(table, ordering, &argv, &mut capture, &mut tally);
        }
    }
    assert_exercised(&tally);
}
