use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::tables::{DEPMOD, KMOD, MODINFO, MODPROBE, SYNTHETIC};
use super::{Ordering, Parser};
use crate::cli::{parse, ErrorKind, Opt};

fn args(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn ok(table: &[Opt<i32>], v: &[&str]) -> (Vec<(char, Option<String>)>, Vec<String>) {
    let p = Parser::new(table, args(v))
        .ordering(Ordering::Permute)
        .parse();
    let p = p.unwrap_or_else(|e| panic!("{v:?}: {e}"));
    let opts = p.opts.into_iter().map(|(id, v)| {
        let id = char::from_u32(id as u32).unwrap();
        (id, v.map(|v| v.into_string().unwrap()))
    });
    let operands = p.operands.into_iter().map(|o| o.into_string().unwrap());
    (opts.collect(), operands.collect())
}

fn err(table: &[Opt<i32>], v: &[&str]) -> String {
    let r = Parser::new(table, args(v))
        .ordering(Ordering::Permute)
        .parse();
    r.expect_err("expected an error").to_string()
}

fn o(c: char, v: Option<&str>) -> (char, Option<String>) {
    (c, v.map(String::from))
}

#[test]
fn permutes_and_groups() {
    let (opts, operands) = ok(
        MODPROBE,
        &["modprobe", "m1", "-vvq", "p=1", "-C/etc", "-d", "/r"],
    );
    let want = [
        o('v', None),
        o('v', None),
        o('q', None),
        o('C', Some("/etc")),
        o('d', Some("/r")),
    ];
    assert_eq!(opts, want);
    assert_eq!(operands, ["m1", "p=1"]);
}

#[test]
fn long_forms_and_double_dash() {
    let v = [
        "m",
        "--config=a",
        "--config",
        "b",
        "x",
        "--",
        "-v",
        "--all",
        "-",
    ];
    let (opts, operands) = ok(MODPROBE, &v);
    assert_eq!(opts, [o('C', Some("a")), o('C', Some("b"))]);
    assert_eq!(operands, ["x", "-v", "--all", "-"]);
    // A value is taken verbatim even when it looks like an option.
    let (opts, operands) = ok(MODPROBE, &["m", "-C", "--", "-S", "-v", "--conf", "--"]);
    assert_eq!(
        opts,
        [o('C', Some("--")), o('S', Some("-v")), o('C', Some("--"))]
    );
    assert!(operands.is_empty());
}

#[test]
fn abbreviations() {
    // --ignore matches two names with one val: not ambiguous.
    let (opts, _) = ok(MODPROBE, &["m", "--ignore", "--use", "--con=x", "--dry"]);
    let err = err(MODPROBE, &["m", "--sh"]);
    assert!(err.contains("is ambiguous"), "{err}");
    let want = [o('i', None), o('b', None), o('C', Some("x")), o('n', None)];
    assert_eq!(opts, want);
    // An exact name wins over longer names it is a prefix of.
    let (opts, _) = ok(MODPROBE, &["m", "--show", "--remove"]);
    assert_eq!(opts, [o('n', None), o('r', None)]);
}

#[test]
fn require_order_stops_at_first_operand() {
    let p = Parser::new(KMOD, args(&["kmod", "-V", "list", "-h", "--", "x"]));
    let p = p.ordering(Ordering::RequireOrder).parse().unwrap();
    assert_eq!(p.opts, [('V' as i32, None)]);
    assert_eq!(p.operands, args(&["list", "-h", "--", "x"]));
}

#[test]
fn empty_argv_and_non_utf8() {
    assert!(parse(MODPROBE, Vec::<OsString>::new())
        .unwrap()
        .opts
        .is_empty());
    let raw = |b: &[u8]| OsString::from_vec(b.to_vec());
    let argv = vec![
        raw(b"m"),
        raw(b"-C\xff"),
        raw(b"\xfe"),
        raw(b"--dirname=\xfd"),
    ];
    let p = Parser::new(MODPROBE, argv).ordering(Ordering::Permute);
    let p = p.parse().unwrap();
    assert_eq!(
        p.opts,
        [
            ('C' as i32, Some(raw(b"\xff"))),
            ('d' as i32, Some(raw(b"\xfd")))
        ]
    );
    assert_eq!(p.operands, [raw(b"\xfe")]);
}

#[test]
fn iterator_continues_after_errors() {
    let argv = args(&["m", "-xv", "--bad", "a", "-C"]);
    let mut p = Parser::new(MODPROBE, argv).ordering(Ordering::Permute);
    let kinds: Vec<_> = p.by_ref().map(|r| r.map_err(|e| e.kind)).collect();
    let want = [
        Err(ErrorKind::InvalidOption { byte: b'x' }),
        Ok(('v' as i32, None)),
        Err(ErrorKind::UnrecognizedOption {
            arg: "--bad".into(),
        }),
        Err(ErrorKind::ShortMissingArgument { short: 'C' }),
    ];
    assert_eq!(kinds, want);
    assert_eq!(p.operands(), args(&["a"]));
}

/// Messages observed from glibc 2.36 (Debian 12), printed by Debian's
/// kmod 30 tools, whose option tables match these for the cases used.
#[test]
fn messages_observed_from_glibc() {
    type Case = (&'static [Opt<i32>], &'static [&'static str], &'static str);
    let cases: &[Case] = &[
        (
            MODPROBE,
            &["modprobe", "--foo"],
            "modprobe: unrecognized option '--foo'",
        ),
        (
            MODPROBE,
            &["modprobe", "--foo=bar"],
            "modprobe: unrecognized option '--foo=bar'",
        ),
        (DEPMOD, &["depmod", "-x"], "depmod: invalid option -- 'x'"),
        (
            MODINFO,
            &["modinfo", "-F"],
            "modinfo: option requires an argument -- 'F'",
        ),
        (
            DEPMOD,
            &["depmod", "-C"],
            "depmod: option requires an argument -- 'C'",
        ),
        (
            MODPROBE,
            &["modprobe", "--config"],
            "modprobe: option '--config' requires an argument",
        ),
        (
            MODPROBE,
            &["modprobe", "--c"],
            "modprobe: option '--config' requires an argument",
        ),
        (
            MODINFO,
            &["modinfo", "--field"],
            "modinfo: option '--field' requires an argument",
        ),
        (
            MODPROBE,
            &["modprobe", "--all=3"],
            "modprobe: option '--all' doesn't allow an argument",
        ),
        (
            MODPROBE,
            &["modprobe", "--dry="],
            "modprobe: option '--dry-run' doesn't allow an argument",
        ),
        (
            DEPMOD,
            &["depmod", "--sh=1"],
            "depmod: option '--show' doesn't allow an argument",
        ),
        (KMOD, &["kmod", "--x"], "kmod: unrecognized option '--x'"),
        (
            MODPROBE,
            &["/sbin/modprobe", "--ignore=3"],
            "/sbin/modprobe: option '--ignore-install' doesn't allow an argument",
        ),
        (
            MODPROBE,
            &["modprobe", "--s", "x"],
            "modprobe: option '--s' is ambiguous; possibilities: '--show-depends' '--showconfig' \
             '--show-config' '--show-modversions' '--show-exports' '--show' '--set-version' \
             '--syslog'",
        ),
        (
            MODPROBE,
            &["modprobe", "--show-=3"],
            "modprobe: option '--show-=3' is ambiguous; possibilities: '--show-depends' \
             '--show-config' '--show-modversions' '--show-exports'",
        ),
        (
            MODPROBE,
            &["modprobe", "--=x"],
            "modprobe: option '--=x' is ambiguous; possibilities: '--all' '--remove' \
             '--remove-dependencies' '--remove-holders' '--wait' '--resolve-alias' \
             '--first-time' '--ignore-install' '--ignore-remove' '--use-blacklist' '--force' \
             '--force-modversion' '--force-vermagic' '--show-depends' '--showconfig' \
             '--show-config' '--show-modversions' '--dump-modversions' '--show-exports' \
             '--dry-run' '--show' '--config' '--dirname' '--set-version' '--syslog' '--quiet' \
             '--verbose' '--version' '--help'",
        ),
    ];
    for (table, argv, want) in cases {
        assert_eq!(err(table, argv), *want, "{argv:?}");
    }
    // glibc prints the raw first byte of a multi-byte character.
    let r = Parser::new(MODPROBE, args(&["modprobe", "-é"])).parse();
    assert_eq!(
        r.unwrap_err().message(),
        b"modprobe: invalid option -- '\xc3'"
    );
}

#[test]
fn ambiguity_lists_candidates_differing_from_the_first() {
    // abd and abe share a val but differ from abc, so both are listed;
    // abf shares abc's val and is not.
    let want = "p: option '--ab' is ambiguous; possibilities: '--abc' '--abd' '--abe'";
    assert_eq!(err(SYNTHETIC, &["p", "--ab"]), want);
    // Same val, different has_arg: glibc sees two options.
    let want = "p: option '--op=1' is ambiguous; possibilities: '--opt' '--opx'";
    assert_eq!(err(SYNTHETIC, &["p", "--op=1"]), want);
}

#[test]
fn optional_values_are_attached_only() {
    let (opts, operands) = ok(
        SYNTHETIC,
        &["p", "-o", "v", "-ov", "--opt", "w", "--opt=", "--xxy=2"],
    );
    let want = [
        o('o', None),
        o('o', Some("v")),
        o('o', None),
        o('o', Some("")),
        o('x', Some("2")),
    ];
    assert_eq!(opts, want);
    assert_eq!(operands, ["v", "w"]);
}
