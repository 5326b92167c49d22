//! The options modutils adds must not change what any kmod command line
//! means: every abbreviation of a kmod option resolves as in kmod 34.2,
//! every prefix kmod rejects is rejected with the same message, and the
//! new options work only when spelled out in full.

use std::fmt::Debug;

use super::getopt::tables;
use super::{Opt, Ordering, Parser};

/// What glibc's getopt_long makes of `argv`: the canonical name of each
/// option found (first long name of its row, or `-c`), or the error text.
fn outcome<K: Copy + PartialEq + Debug>(
    table: &[Opt<K>],
    argv: &[&str],
) -> Result<Vec<String>, String> {
    let parsed = Parser::new(table, argv.iter().map(|s| s.to_string()))
        .ordering(Ordering::Permute)
        .parse()
        .map_err(|e| e.to_string())?;
    Ok(parsed
        .opts
        .iter()
        .map(|(id, _)| {
            let row = table.iter().find(|o| o.id == *id).expect("row of id");
            match (row.long.first(), row.short) {
                (Some(l), _) => format!("--{l}"),
                (None, Some(c)) => format!("-{c}"),
                (None, None) => unreachable!(),
            }
        })
        .collect())
}

fn check<K: Copy + PartialEq + Debug>(tool: &str, kmod: &[Opt<i32>], ours: &[Opt<K>]) {
    let kmod_names: Vec<&str> = kmod.iter().flat_map(|o| o.long.iter().copied()).collect();
    let own: Vec<&str> = ours
        .iter()
        .filter(|o| o.exact)
        .flat_map(|o| o.long.iter().copied())
        .collect();
    // Our table holds every kmod option, and every other one is marked.
    for o in ours.iter().filter(|o| !o.exact) {
        for l in o.long {
            assert!(
                kmod_names.contains(l),
                "{tool}: --{l} is not kmod's: mark it .extension()"
            );
        }
    }
    let mut tried = 0;
    for name in kmod_names.iter().chain(&own) {
        for end in 1..=name.len() {
            let prefix = &name[..end];
            for arg in [format!("--{prefix}"), format!("--{prefix}=x")] {
                let argv = [tool, arg.as_str(), "operand"];
                let theirs = outcome(kmod, &argv);
                let mine = outcome(ours, &argv);
                tried += 1;
                if own.contains(&prefix) {
                    // The full name of one of ours: kmod does not know it.
                    assert!(theirs.is_err(), "{tool} {arg}: kmod accepts it");
                    continue;
                }
                assert_eq!(mine, theirs, "{tool} {arg}");
            }
        }
    }
    assert!(tried > 0);
}

#[test]
fn lsmod_abbreviations_are_kmods() {
    check("lsmod", tables::LSMOD, crate::lsmod::options());
}

#[test]
fn modinfo_abbreviations_are_kmods() {
    check("modinfo", tables::MODINFO, crate::modinfo::options());
}

#[test]
fn modprobe_abbreviations_are_kmods() {
    check("modprobe", tables::MODPROBE, crate::modprobe::options());
}

#[test]
fn insmod_abbreviations_are_kmods() {
    check("insmod", tables::INSMOD, crate::insmod::options());
}

#[test]
fn rmmod_abbreviations_are_kmods() {
    // kmod 34.2's rmmod has the same table as insmod: -f -s -v -V -h.
    check("rmmod", tables::INSMOD, crate::rmmod::options());
}

#[test]
fn own_options_work_in_full_only() {
    let ok = |argv: &[&str]| outcome(crate::modprobe::options(), argv);
    assert_eq!(
        ok(&["modprobe", "--tree", "-D", "m"]),
        Ok(vec!["--tree".into(), "--show-depends".into()])
    );
    assert_eq!(
        ok(&["modprobe", "--tre"]),
        Err("modprobe: unrecognized option '--tre'".into())
    );
    assert_eq!(
        ok(&["modprobe", "--json=x"]),
        Err("modprobe: option '--json' doesn't allow an argument".into())
    );
    let lsmod = |argv: &[&str]| outcome(crate::lsmod::options(), argv);
    assert_eq!(lsmod(&["lsmod", "--json"]), Ok(vec!["--json".into()]));
    assert_eq!(
        lsmod(&["lsmod", "--j"]),
        Err("lsmod: unrecognized option '--j'".into())
    );
}
