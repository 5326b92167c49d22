//! Hostile configuration against the library: modprobe.d and depmod.d
//! files with 1 MiB lines, 10,000 continuation lines, binary garbage,
//! directories, FIFOs, symlink loops and endless files where files were
//! expected, a regular-expression bomb in depmod.d, and an oversized kernel
//! command line. Each loads in bounded time with messages naming the file
//! (and line), as kmod words them.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::time::Duration;

use crate::common::cpu::CpuTimer;

use modutils_core::config::depmod::{self as depmod_config, kernel_matches};
use modutils_core::config::modprobe::{KernelCmdline, LoadOptions};
use modutils_core::config::{kcmdline, DepmodConfig, Diagnostic, ModprobeConfig};
use modutils_core::Root;

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let t = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(t.host("/lib/modules/1.0")).unwrap();
        std::fs::write(t.host("/proc/sys/kernel/osrelease").tap_parent(), "1.0\n").unwrap();
        t
    }

    fn host(&self, target: &str) -> PathBuf {
        self.dir.path().join(target.trim_start_matches('/'))
    }

    fn write(&self, target: &str, data: &[u8]) {
        std::fs::write(self.host(target).tap_parent(), data).unwrap();
    }

    fn root(&self) -> Root {
        Root::at(self.dir.path())
    }

    fn modprobe(&self, paths: &[&str]) -> (ModprobeConfig, Vec<Diagnostic>, Duration) {
        let root = self.root();
        let start = CpuTimer::start();
        let loaded = ModprobeConfig::load(&LoadOptions {
            root: &root,
            config_paths: Some(paths.iter().map(PathBuf::from).collect()),
            module_dir: Some(PathBuf::from("/lib/modules/1.0")),
            kernel_cmdline: KernelCmdline::Proc,
        });
        (loaded.config, loaded.diagnostics, start.elapsed())
    }

    fn depmod(&self, paths: &[&str]) -> (DepmodConfig, Vec<Diagnostic>, Duration) {
        let root = self.root();
        let start = CpuTimer::start();
        let mut diags = Vec::new();
        let opts = depmod_config::LoadOptions {
            root: &root,
            config_paths: Some(paths.iter().map(PathBuf::from).collect()),
            kernel_version: b"6.1.0-1-amd64".to_vec(),
        };
        let config = DepmodConfig::load(&opts, &mut diags);
        (config, diags, start.elapsed())
    }
}

trait TapParent {
    fn tap_parent(self) -> Self;
}

impl TapParent for PathBuf {
    /// Creates the parent directory, for writing the file.
    fn tap_parent(self) -> Self {
        std::fs::create_dir_all(self.parent().unwrap()).unwrap();
        self
    }
}

fn lines(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| String::from_utf8_lossy(&d.libkmod_line()).into_owned())
        .collect()
}

#[test]
fn a_one_mebibyte_line_and_ten_thousand_continuations() {
    let t = Tree::new();
    let mut long = b"options mod_a ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 1 << 20));
    long.extend_from_slice(b"\nbogus\n");
    t.write("/etc/modprobe.d/long.conf", &long);
    let mut cont = b"alias joined".to_vec();
    for _ in 0..10_000 {
        cont.extend_from_slice(b" \\\n");
    }
    cont.extend_from_slice(b"mod_a\nbogus\n");
    t.write("/etc/modprobe.d/cont.conf", &cont);
    let (config, diags, took) = t.modprobe(&["/etc/modprobe.d"]);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(config.options[0].options.len(), 1 << 20);
    assert_eq!(config.aliases[0].pattern, b"joined");
    // Line numbers count physical lines: the bad line after 10,001 of them.
    assert_eq!(
        lines(&diags),
        [
            "libkmod: ERROR: kmod_config_parse: /etc/modprobe.d/cont.conf line 10002: ignoring bad line starting with 'bogus'\n",
            "libkmod: ERROR: kmod_config_parse: /etc/modprobe.d/long.conf line 2: ignoring bad line starting with 'bogus'\n",
        ]
    );
}

#[test]
fn binary_garbage_is_bad_lines_named_by_file_and_line() {
    let t = Tree::new();
    let garbage: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    t.write("/etc/modprobe.d/garbage.conf", &garbage);
    t.write("/etc/depmod.d/garbage.conf", &garbage);
    let (_, diags, took) = t.modprobe(&["/etc/modprobe.d"]);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(!diags.is_empty());
    for d in &diags {
        let text = String::from_utf8_lossy(&d.message);
        assert!(
            text.starts_with("/etc/modprobe.d/garbage.conf line "),
            "{text}"
        );
    }
    let (_, diags, took) = t.depmod(&["/etc/depmod.d"]);
    assert!(took < Duration::from_secs(5), "{took:?}");
    for d in &diags {
        let text = String::from_utf8_lossy(&d.message);
        assert!(text.starts_with("/etc/depmod.d/garbage.conf:"), "{text}");
    }
}

#[test]
fn things_that_are_not_files_where_files_were_expected() {
    let t = Tree::new();
    let dir = t.host("/etc/modprobe.d");
    std::fs::create_dir_all(dir.join("sub.conf")).unwrap();
    symlink("loop.conf", dir.join("loop.conf")).unwrap();
    symlink("/dev/null", dir.join("null.conf")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("fifo.conf").as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    t.write("/etc/modprobe.d/ok.conf", b"alias fine mod_a\n");
    // A socket cannot be opened at all: skipped without a word, as kmod does.
    let sock = std::os::unix::net::UnixListener::bind(dir.join("sock.conf")).unwrap();
    let (config, diags, took) = t.modprobe(&["/etc/modprobe.d"]);
    drop(sock);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(config.aliases.len(), 1);
    // In directory order, which the file system decides.
    let mut got = lines(&diags);
    got.sort();
    assert_eq!(
        got,
        [
            "libkmod: ERROR: conf_files_filter_out: Cannot stat directory entry: /etc/modprobe.d/loop.conf\n",
            "libkmod: ERROR: conf_files_filter_out: Directories inside directories are not supported: /etc/modprobe.d/sub.conf\n",
        ]
    );
    // The same, given one by one with -C.
    for name in [
        "sub.conf",
        "loop.conf",
        "null.conf",
        "fifo.conf",
        "missing.conf",
    ] {
        let path = format!("/etc/modprobe.d/{name}");
        let (config, _, took) = t.modprobe(&[&path]);
        assert!(took < Duration::from_secs(5), "{name}: {took:?}");
        assert!(config.aliases.is_empty());
    }
    // depmod.d: a directory among the files is refused by name.
    std::fs::create_dir_all(t.host("/etc/depmod.d/sub.conf")).unwrap();
    t.write("/etc/depmod.d/ok.conf", b"search updates built-in\n");
    let (config, diags, _) = t.depmod(&["/etc/depmod.d"]);
    assert_eq!(config.searches.len(), 2);
    assert!(lines(&diags)
        .iter()
        .any(|l| l
            .contains("Directories inside directories are not supported: /etc/depmod.d/sub.conf")));
}

#[test]
fn an_endless_file_is_cut_at_64_mib() {
    let t = Tree::new();
    std::fs::create_dir_all(t.host("/etc")).unwrap();
    symlink("/dev/zero", t.host("/etc/zero.conf")).unwrap();
    let (_, diags, took) = t.modprobe(&["/etc/zero.conf"]);
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(
        lines(&diags),
        ["libkmod: ERROR: kmod_config_parse: /etc/zero.conf: stopped reading after 67108864 bytes\n"]
    );
    let (_, diags, _) = t.depmod(&["/etc/zero.conf"]);
    assert!(lines(&diags)
        .iter()
        .any(|l| l.contains("/etc/zero.conf: stopped reading after 67108864 bytes")));
}

#[test]
fn a_regular_expression_bomb_in_depmod_d_matches_nothing_quickly() {
    // glibc needs gigabytes to compile these (kmod too); their automata pass
    // our matcher's size limit, so they match nothing, at once.
    let start = CpuTimer::start();
    assert!(!kernel_matches(
        b"((((a{1,255}){1,255}){1,255}){1,255})",
        b"aaaa"
    ));
    assert!(!kernel_matches(
        b"(((.{0,1000}){0,1000}){0,1000})",
        b"6.1.0"
    ));
    assert!(!kernel_matches(b"(a{32767}){32767}", b"a"));
    // Found by the depmod_conf fuzzer: stacked `+` double glibc's work each
    // (past 2.3 GB for this line). They cost our matcher nothing (`a++` is
    // `a+`), so these get glibc's answer for the short form, `extothp_+`.
    let mut stacked = b"extothp_".to_vec();
    stacked.extend_from_slice(&[b'+'; 48]);
    assert!(kernel_matches(&stacked, b"extothp_"));
    assert!(!kernel_matches(&stacked, b"extoth"));
    // ... and again, with a `*` between the `+` (over 3 GB).
    assert!(!kernel_matches(
        b"extoth+++#++++++++++*++++++++++++++#",
        b"6.1"
    ));
    assert!(kernel_matches(
        b"extoth+++#++++++++++*++++++++++++++#",
        b"extothh##"
    ));
    assert!(kernel_matches(
        b"a+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?",
        b"a"
    ));
    assert!(kernel_matches(b"a++++++++++++++++++++++++", b"a"));
    assert!(!kernel_matches(b"a++++++++++++++++++++++++", b"b"));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // Real patterns, bounded ones included, are untouched.
    assert!(kernel_matches(b"^6\\.[0-9]{1,2}\\.", b"6.1.0-1-amd64"));
    assert!(kernel_matches(
        b"(6|7)\\.[[:digit:]]{1,3}(-[a-z0-9]+){0,4}",
        b"6.1.0-1-amd64"
    ));
    assert!(kernel_matches(b"a{1000}|6", b"6.1"));
    assert!(kernel_matches(
        b"^6\\.[0-9]+\\.[0-9]+-[0-9]+-amd64$",
        b"6.1.0-1-amd64"
    ));
    assert!(kernel_matches(b"6+++++++", b"6.1"));
    let t = Tree::new();
    t.write(
        "/etc/depmod.d/bomb.conf",
        b"override mod_a ((((a{1,255}){1,255}){1,255}){1,255}) extra\nexternal ((.{1,99}){1,99}){1,99} /opt\n",
    );
    let (config, diags, took) = t.depmod(&["/etc/depmod.d"]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(config.overrides.is_empty() && config.externals.is_empty());
    assert_eq!(diags.len(), 2, "{:?}", lines(&diags));
}

#[test]
fn an_oversized_kernel_command_line_is_read_to_4095_bytes() {
    let t = Tree::new();
    let mut cmdline = b"quiet ".repeat(400_000);
    cmdline.extend_from_slice(b"mod_a.x=1\n");
    t.write("/proc/cmdline", &cmdline);
    let start = CpuTimer::start();
    let mut diags: Vec<Diagnostic> = Vec::new();
    let text = kcmdline::read(&t.root(), &mut diags).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(text.len(), kcmdline::MAX_LEN);
    let entries = kcmdline::parse(&cmdline, &mut diags);
    assert!(entries.is_empty(), "only the first 4095 bytes count");
    let (config, _, _) = t.modprobe(&["/etc/none"]);
    assert!(config.options.is_empty());
    assert!(start.elapsed() < Duration::from_secs(2));
}
