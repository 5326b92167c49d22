//! Unit tests of parsing, lookups and file selection. The byte-exact
//! comparison with kmod's own `modprobe -c` is in tests/config_modprobe.rs.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::config::END_OF_CONFIG;

fn parsed(text: &str) -> (ModprobeConfig, Vec<String>) {
    let mut c = ModprobeConfig::default();
    let mut d = Vec::new();
    c.parse(b"/x.conf", text.as_bytes(), &mut d);
    (
        c,
        d.iter()
            .map(|d| String::from_utf8_lossy(&d.libkmod_line()).into_owned())
            .collect(),
    )
}

fn shown(c: &ModprobeConfig) -> String {
    let out = c.show_config();
    let out = out.strip_suffix(END_OF_CONFIG).expect("end marker");
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn directives_are_stored_normalised_and_in_order() {
    let (c, d) = parsed(
        "alias f-[0-9]-x mod-b\n\
         options  m-4   x=1\tb=2  \n\
         install m-y /bin/true  a\n\
         remove m-x  /bin/false\n\
         blacklist a-b c-d\n\
         softdep s-1 pre: a-1 b post: c\n\
         weakdep w-1 x-y z\n",
    );
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(
        shown(&c),
        "blacklist a_b\n\
         install m_y /bin/true  a\n\
         remove m_x  /bin/false\n\
         alias f_[0-9]_x mod_b\n\
         options m_4   x=1 b=2  \n\
         softdep s_1 pre: a-1 bpost: c\n\
         weakdep w_1 x-y z\n"
    );
}

#[test]
fn softdep_display_spans_interleaved_names() {
    // The pre span runs from the first to the last pre name, taking in the
    // post name written between them.
    let (c, _) = parsed("softdep m pre: a b post: c pre: d\nsoftdep n foo bar\nsoftdep o post:\n");
    assert_eq!(
        shown(&c),
        "softdep m pre: a b c dpost: c\nsoftdep n \nsoftdep o \n"
    );
    let m = c.softdeps_for(b"m").unwrap();
    assert_eq!(m.pre().collect::<Vec<_>>(), [&b"a"[..], b"b", b"d"]);
    assert_eq!(m.post().collect::<Vec<_>>(), [&b"c"[..]]);
}

#[test]
fn softdep_single_leading_space_quirk() {
    // The rest of `softdep a\t pre: x` is ` pre: x`: its one leading space
    // sticks to `pre:`, which is then no keyword.
    let (c, _) = parsed("softdep a\t pre: x\nsoftdep b   pre: y\nsoftdep d pre:\tq\x0bw post: \n");
    assert_eq!(
        shown(&c),
        "softdep a \nsoftdep b pre: y\nsoftdep d pre: q w\n"
    );
}

#[test]
fn weakdep_empty_list_keeps_trailing_space() {
    // The rest of the line must exist, but may be blank: two spaces here.
    let (c, d) = parsed("weakdep mod_loop_a  \nweakdep b \n");
    assert_eq!(shown(&c), "weakdep mod_loop_a \n");
    assert_eq!(d, ["libkmod: ERROR: kmod_config_parse: /x.conf line 2: ignoring bad line starting with 'weakdep'\n"]);
    assert!(c.weakdeps_for(b"mod_loop_a").unwrap().names.is_empty());
}

#[test]
fn bad_lines_and_deprecated_commands() {
    let (_, d) = parsed(
        "alias a[b c\nalias x] y\nalias only\n  # indented\n\t#x\nsoftdep m\ninclude foo\nconfig bar\n\
         blacklist\ninstall m-y \noptions m\nfoo bar\n\\\nremove\n",
    );
    let p = "libkmod: ERROR: kmod_config_parse: /x.conf";
    let bad =
        |n: u32, cmd: &str| format!("{p} line {n}: ignoring bad line starting with '{cmd}'\n");
    assert_eq!(
        d,
        [
            bad(1, "alias"),
            bad(2, "alias"),
            bad(3, "alias"),
            bad(4, "#"),
            bad(5, "#x"),
            bad(6, "softdep"),
            format!("{p}: command include is deprecated and not parsed anymore\n"),
            format!("{p}: command config is deprecated and not parsed anymore\n"),
            bad(9, "blacklist"),
            bad(10, "install"),
            bad(11, "options"),
            bad(12, "foo"),
            bad(14, "remove"),
        ]
    );
}

#[test]
fn lookups() {
    let (c, _) = parsed(
        "alias pci:v1* first\nalias pci:v12 second\nalias other third\n\
         options first a=1\noptions pci:v12 b=2\noptions first c=3\noptions first \t\n\
         install fir* /bin/one\ninstall first /bin/two\nremove f* /bin/rm\n\
         blacklist first\n\
         softdep fi* pre: x\nsoftdep first pre: y\n\
         weakdep f* w1\n",
    );
    let names: Vec<&[u8]> = c
        .aliases_matching(b"pci:v12")
        .map(|a| a.modname.as_slice())
        .collect();
    assert_eq!(names, [&b"first"[..], b"second"]);
    assert_eq!(c.options_for(b"first", None).unwrap(), b"a=1 c=3  ");
    assert_eq!(
        c.options_for(b"first", Some(b"pci:v12")).unwrap(),
        b"a=1 b=2 c=3  "
    );
    assert_eq!(c.options_for(b"nothing", None), None);
    assert_eq!(c.install_command(b"first").unwrap(), b"/bin/one");
    assert_eq!(c.install_exact(b"first").unwrap().command, b"/bin/two");
    assert!(c.install_exact(b"fir").is_none());
    assert_eq!(c.remove_command(b"first").unwrap(), b"/bin/rm");
    assert!(c.remove_exact(b"first").is_none());
    assert!(c.is_blacklisted(b"first") && !c.is_blacklisted(b"firs"));
    assert_eq!(
        c.softdeps_for(b"first").unwrap().pre().next().unwrap(),
        b"x"
    );
    assert_eq!(c.weakdeps_for(b"foo").unwrap().names, [b"w1".to_vec()]);
}

#[test]
fn kernel_cmdline_entries_come_last_as_plain_entries() {
    let (mut c, _) = parsed("options m a=1\nblacklist x\n");
    let mut d = Vec::new();
    c.add_kernel_cmdline(b"m.b=2 modprobe.blacklist=y-z quiet\n", &mut d);
    assert_eq!(
        shown(&c),
        "blacklist x\nblacklist y-z\noptions m a=1\noptions m b=2\n"
    );
    assert_eq!(c.options_for(b"m", None).unwrap(), b"a=1 b=2");
    assert_eq!(c.kernel_cmdline_options().count(), 1);
}

#[test]
fn binary_garbage_does_not_panic() {
    let mut seed = 42u32;
    let mut data = Vec::new();
    for _ in 0..200_000 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let pick = b"alias options softdep pre: post: weakdep install \\\n\t #[]-\0\xff";
        data.push(pick[(seed >> 16) as usize % pick.len()]);
    }
    let mut c = ModprobeConfig::default();
    let mut d = Vec::new();
    c.parse(b"g", &data, &mut d);
    let _ = c.show_config();
}

// --- file selection, under a fake root ---

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn load(
    root: &Path,
    config_paths: Option<Vec<PathBuf>>,
    cmdline: KernelCmdline,
) -> (String, Vec<String>) {
    let r = Root::at(root);
    let opts = LoadOptions {
        root: &r,
        config_paths,
        module_dir: Some(PathBuf::from("/lib/modules/1.0")),
        kernel_cmdline: cmdline,
    };
    let l = ModprobeConfig::load(&opts);
    let diags = l
        .diagnostics
        .iter()
        .map(|d| String::from_utf8_lossy(&d.libkmod_line()).into_owned())
        .collect();
    (shown(&l.config), diags)
}

#[test]
fn default_dirs_precedence_and_order() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "/etc/modprobe.d/same.conf", "options from etc\n");
    write(r, "/run/modprobe.d/same.conf", "options from run\n");
    write(r, "/usr/lib/modprobe.d/same.conf", "options from usrlib\n");
    write(r, "/usr/lib/modprobe.d/a.conf", "options a usrlib\n");
    write(r, "/lib/modprobe.d/a.conf", "options a lib\n");
    write(r, "/lib/modprobe.d/z.conf", "options z lib\n");
    write(r, "/usr/local/lib/modprobe.d/n.conf", "options n local\n");
    write(
        r,
        "/lib/modules/1.0/modules.softdep",
        "# header\nsoftdep m pre: dir\n",
    );
    write(r, "/lib/modules/1.0/modules.weakdep", "weakdep w x\n");
    // Ignored: wrong suffix (including kmod <= 32's .alias), hidden, too short.
    write(r, "/etc/modprobe.d/old.alias", "options old alias\n");
    write(r, "/etc/modprobe.d/.hidden.conf", "options hidden x\n");
    write(r, "/etc/modprobe.d/README", "options readme x\n");
    write(r, "/etc/modprobe.d/.conf", "options dot x\n");
    fs::create_dir_all(r.join("etc/modprobe.d/sub.conf")).unwrap();
    fs::create_dir_all(r.join("etc/modprobe.d/subdir")).unwrap();
    write(r, "/proc/cmdline", "quiet m.p=1\n");

    let (out, diags) = load(r, None, KernelCmdline::Proc);
    assert_eq!(
        out,
        "options a usrlib\n\
         options n local\n\
         options from etc\n\
         options z lib\n\
         options m p=1\n\
         softdep m pre: dir\n\
         weakdep w x\n"
    );
    assert_eq!(
        diags,
        ["libkmod: ERROR: conf_files_filter_out: Directories inside directories are not supported: \
          /etc/modprobe.d/sub.conf\n"]
    );
}

#[test]
fn config_paths_replace_the_defaults() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "/etc/modprobe.d/a.conf", "options a etc\n");
    write(r, "/c1/x.conf", "options x c1\n");
    write(r, "/c2/x.conf", "options x c2\n");
    write(r, "/c2/b.conf", "options b c2\n");
    write(r, "/single/k.conf", "options k single\n");
    write(r, "/lib/modules/1.0/modules.softdep", "softdep s pre: t\n");
    let paths = ["/c1", "/c2", "/single/k.conf", "/missing"]
        .map(PathBuf::from)
        .to_vec();
    let (out, diags) = load(r, Some(paths), KernelCmdline::Ignore);
    assert_eq!(
        out,
        "options b c2\noptions k single\noptions x c1\nsoftdep s pre: t\n"
    );
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn messages_name_files_as_given() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "/d/a.conf", "bogus\n");
    // A -C path is a target path; its spelling is kept ("/d/" + "/a.conf").
    let d = "/d/";
    let (_, diags) = load(r, Some(vec![PathBuf::from(d)]), KernelCmdline::Ignore);
    assert_eq!(
        diags,
        [format!("libkmod: ERROR: kmod_config_parse: {d}/a.conf line 1: ignoring bad line starting with 'bogus'\n")]
    );
}

#[test]
fn odd_files_do_not_hang_or_fail() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    // modules.softdep is a directory; a FIFO is a .conf; /proc/cmdline is a
    // directory (kmod reports the read error).
    fs::create_dir_all(r.join("lib/modules/1.0/modules.softdep")).unwrap();
    fs::create_dir_all(r.join("c")).unwrap();
    let fifo =
        std::ffi::CString::new(r.join("c/fifo.conf").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    write(
        r,
        "/c/long.conf",
        &format!("options big {}\n", "x".repeat(1 << 20)),
    );
    fs::create_dir_all(r.join("proc/cmdline")).unwrap();
    let (out, diags) = load(r, Some(vec![PathBuf::from("/c")]), KernelCmdline::Proc);
    assert!(out.starts_with("options big xxx") && out.len() == 13 + (1 << 20));
    assert_eq!(
        diags,
        ["libkmod: ERROR: kmod_config_parse_kcmdline: could not read from '/proc/cmdline': Is a directory\n"]
    );
}

#[test]
fn unstatable_entries_are_reported() {
    // kmod 34.2 checks fstatat (kmod 30 did not): a dangling symlink named
    // *.conf is reported and skipped.
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("c")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", r.join("c/dangling.conf")).unwrap();
    write(r, "/c/ok.conf", "options ok yes\n");
    let (out, diags) = load(r, Some(vec![PathBuf::from("/c")]), KernelCmdline::Ignore);
    assert_eq!(out, "options ok yes\n");
    assert_eq!(diags, ["libkmod: ERROR: conf_files_filter_out: Cannot stat directory entry: /c/dangling.conf\n"]);
}
