//! Names that are not UTF-8, against kmod: modprobe.d and the indexes are
//! bytes to kmod, matched byte for byte, and shown as they are. Each case
//! compares stdout, stderr and the exit status with kmod's modprobe.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::modprobe_tree::{build_moddir, fixtures};
use crate::util::{oracle, ours, real_tree, run};

/// `-d DIR -S 1.0 -C CONF`, then the case's words (bytes).
fn args(dir: &Path, conf: &Path, case: &[&[u8]]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        "-d".into(),
        dir.into(),
        "-S".into(),
        "1.0".into(),
        "-C".into(),
        conf.into(),
    ];
    a.extend(case.iter().map(|w| OsString::from_vec(w.to_vec())));
    a
}

/// Both tools' stdout, stderr and exit status, byte for byte (the
/// messages here are modprobe's own, in the same format in kmod 30 and
/// 34.2); the differences, bytes escaped.
fn compare(what: &str, args: &[OsString]) -> Option<String> {
    let (k, o) = (run(&oracle("modprobe"), args), run(&ours("modprobe"), args));
    let mut d = String::new();
    for (stream, k, o) in [
        ("stdout", &k.stdout, &o.stdout),
        ("stderr", &k.stderr, &o.stderr),
    ] {
        if k != o {
            d += &format!(
                "{what}: {stream} differs\n--- kmod\n{}\n--- ours\n{}\n",
                k.escape_ascii(),
                o.escape_ascii()
            );
        }
    }
    if k.status.code() != o.status.code() {
        d += &format!(
            "{what}: exit {:?} vs {:?}\n",
            k.status.code(),
            o.status.code()
        );
    }
    (!d.is_empty()).then_some(d)
}

fn label(case: &[&[u8]]) -> String {
    let words: Vec<String> = case.iter().map(|w| w.escape_ascii().to_string()).collect();
    words.join(" ")
}

fn assert_all_like_kmod(dir: &Path, conf: &Path, cases: &[&[&[u8]]]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| compare(&label(case), &args(dir, conf, case)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The configuration names modules, aliases and commands with bytes that
/// are not UTF-8; the test tree's modules are ASCII.
#[test]
fn non_utf8_configuration_names_match_kmod() {
    let tmp = tempfile::tempdir().unwrap();
    build_moddir(
        &fixtures().join("modprobe/tree"),
        &tmp.path().join("lib/modules/1.0"),
    );
    let conf = tmp.path().join("bytes.conf");
    fs::write(
        &conf,
        b"alias al\xe9 mod_a\n\
          alias t\xe9-x mod_c\n\
          alias pat\xe9* mod-b\n\
          options al\xe9 from_alias=\xe9\n\
          options mod_c opt=\xff\n\
          install inst\xe9 echo installing $MODPROBE_MODULE [$CMDLINE_OPTS]\n\
          remove rem\xe9 echo removing $MODPROBE_MODULE\n\
          alias blk\xe9 inst\xe9\n\
          blacklist inst\xe9\n\
          softdep mod_a pre: inst\xe9 post: al\xe9 nosuch\xe9\n\
          softdep ptp pre: t\xe9_x\n",
    )
    .unwrap();
    let cases: &[&[&[u8]]] = &[
        &[b"-R", b"al\xe9"],
        &[b"-R", b"t\xe9_x"],
        &[b"-R", b"t\xe9-x"],
        &[b"-R", b"pat\xe9\xff"],
        &[b"-R", b"inst\xe9"],
        &[b"-R", b"nope\xe9"],
        &[b"-a", b"-R", b"nope\xe9", b"al\xe9"],
        &[b"-D", b"al\xe9"],
        &[b"-D", b"t\xe9-x", b"p=\xe9"],
        &[b"-D", b"inst\xe9", b"a=1"],
        &[b"-D", b"blk\xe9"],
        &[b"-D", b"-b", b"inst\xe9"],
        &[b"-D", b"ptp"],
        &[b"-D", b"-i", b"al\xe9"],
        &[b"-D", b"nope\xe9"],
        &[b"-n", b"-v", b"al\xe9", b"x=1"],
        &[b"-r", b"-n", b"-v", b"rem\xe9"],
        &[b"-r", b"-n", b"-v", b"al\xe9"],
        &[b"-r", b"-n", b"--first-time", b"t\xe9-x"],
        &[b"-r", b"nope\xe9"],
        // Commands that really run (they only echo): the module name
        // reaches them as bytes, in MODPROBE_MODULE.
        &[b"inst\xe9", b"a=\xe9"],
        &[b"-r", b"rem\xe9"],
    ];
    assert_all_like_kmod(tmp.path(), &conf, cases);
}

/// Module files whose names and directories are not UTF-8, indexed by
/// kmod's own depmod: real modules (copies of the tree's `dummy.ko`).
#[test]
fn non_utf8_module_files_match_kmod() {
    let dummy = real_tree().moddir().join("kernel/drivers/net/dummy.ko");
    let tmp = tempfile::tempdir().unwrap();
    let moddir = tmp.path().join("lib/modules/1.0");
    let odd_dir = moddir.join(OsString::from_vec(b"kernel/caf\xe9".to_vec()));
    fs::create_dir_all(&odd_dir).unwrap();
    fs::create_dir_all(moddir.join("kernel/extra")).unwrap();
    fs::copy(&dummy, odd_dir.join("dummy.ko")).unwrap();
    // Not sharing a first byte with another module: kmod's index keeps
    // bytes above 127 in node prefixes only, never as branches.
    let odd_name = OsString::from_vec(b"x\xe9mo.ko".to_vec());
    fs::copy(&dummy, moddir.join("kernel/extra").join(odd_name)).unwrap();
    let depmod = std::process::Command::new(crate::util::oracle("depmod"))
        .arg("-b")
        .arg(tmp.path())
        .arg("1.0")
        .output()
        .unwrap();
    assert!(depmod.status.success(), "{depmod:?}");
    let conf = tmp.path().join("bytes.conf");
    fs::write(
        &conf,
        b"options x\xe9mo from_conf=1\nsoftdep dummy post: x\xe9mo\nalias \xe9 dummy\n",
    )
    .unwrap();
    let cases: &[&[&[u8]]] = &[
        &[b"-D", b"dummy"],
        &[b"-D", b"x\xe9mo"],
        &[b"-D", b"x\xe9mo.ko"],
        &[b"-R", b"rtnl-link-dummy"],
        &[b"-D", b"rtnl-link-dummy"],
        &[b"-R", b"\xe9"],
        &[b"-n", b"-v", b"x\xe9mo"],
        &[b"-r", b"-n", b"-v", b"x\xe9mo"],
        &[b"-r", b"-n", b"--first-time", b"x\xe9mo"],
    ];
    assert_all_like_kmod(tmp.path(), &conf, cases);
}
