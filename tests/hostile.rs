//! Hostile and broken inputs through the tools, as processes: the exit code,
//! a message naming the file, no crash, and bounded time and memory (each
//! measured here with wait4's rusage where it matters). Where kmod behaves
//! sanely on the same input it is run too and must agree byte for byte;
//! where it does not (it hangs on a symlink loop, has no size cap), the
//! difference is ours on purpose and listed in docs/reliability.md.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::modprobe_tree::{build_moddir, fixtures};
use crate::util::{normalize_libkmod_30, oracle, ours, real_tree, text};
use modutils_test_support::fake_module::FakeModule;

/// One run of a tool, with its cost.
#[derive(Debug)]
struct Measured {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    /// CPU time (user + system) the kernel accounted to the process: unlike
    /// wall time, other load on the machine leaves it alone.
    cpu: Duration,
    max_rss_kb: i64,
}

/// How much longer than its nominal limit a run may take on the wall clock
/// before it counts as hung: a loaded machine stretches wall time, not the
/// CPU time the assertions bound.
const WALL_SLACK: u32 = 10;

/// Runs `cmd`, killing it after `WALL_SLACK` times `limit` of wall time (a
/// hang: a failure), and reports its CPU time and peak RSS from the
/// kernel's accounting.
fn measure(cmd: &mut Command, limit: Duration) -> Measured {
    let limit = limit * WALL_SLACK;
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap());
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let (status, rusage) = loop {
        let mut status = 0;
        // SAFETY: plain out-parameters for wait4.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break (status, ru);
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if start.elapsed() > limit {
            // SAFETY: our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
            panic!(
                "{:?} {:?} still running after {limit:?}: {}",
                cmd.get_program(),
                cmd.get_args()
                    .map(|a| short(&a.to_string_lossy()))
                    .collect::<Vec<_>>(),
                short(&fs::read_to_string(&err).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout: text(&fs::read(&out).unwrap()),
        stderr: text(&fs::read(&err).unwrap()),
        cpu: tv(rusage.ru_utime) + tv(rusage.ru_stime),
        max_rss_kb: rusage.ru_maxrss,
    }
}

fn tool(program: &Path) -> Command {
    let mut c = Command::new(program);
    c.arg0(program.file_name().unwrap())
        .env_remove("MODUTILS_SYSROOT")
        .env_remove("MODUTILS_FAKE_KERNEL")
        .env_remove("MODPROBE_OPTIONS");
    c
}

fn ours_cmd(name: &str) -> Command {
    tool(&ours(name))
}

/// Our `depmod -b BASE VERSION`, measured.
fn depmod_under(base: &Path, version: &str, limit: Duration) -> Measured {
    measure(ours_cmd("depmod").arg("-b").arg(base).arg(version), limit)
}

/// kmod's and our run must print and exit alike (kmod 30's debug prefix
/// on library messages aside).
fn same_as_kmod(name: &str, args: &[&OsString]) -> Measured {
    let theirs = measure(tool(&oracle(name)).args(args), Duration::from_secs(60));
    let mine = measure(ours_cmd(name).args(args), Duration::from_secs(60));
    assert_eq!(
        mine.signal, None,
        "{name} {args:?} was killed: {}",
        mine.stderr
    );
    if let Some(d) = difference(&theirs, &mine) {
        panic!("{name} {args:?}: {d}");
    }
    mine
}

/// The first difference between kmod's run and ours, shortly put.
fn difference(theirs: &Measured, mine: &Measured) -> Option<String> {
    if theirs.code != mine.code {
        return Some(format!(
            "exit {:?} (kmod {:?}); stderr {:?}",
            mine.code,
            theirs.code,
            short(&mine.stderr)
        ));
    }
    let kmod_err = normalize_libkmod_30(&theirs.stderr);
    for (what, a, b) in [
        ("stdout", &theirs.stdout, &mine.stdout),
        ("stderr", &kmod_err, &mine.stderr),
    ] {
        if a != b {
            let line = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(a.lines().count().min(b.lines().count()));
            return Some(format!(
                "{what} differs at line {}: kmod {:?}, ours {:?}",
                line + 1,
                a.lines().nth(line).map(short),
                b.lines().nth(line).map(short)
            ));
        }
    }
    None
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

fn module_bytes(name: &str) -> Vec<u8> {
    let mut m = FakeModule::new(name).needs("_printk", 0x1234);
    m.modinfo
        .push(format!("alias=hostile:{name}*").into_bytes());
    m.build()
}

#[test]
fn short_and_odd_module_files_are_reported_as_kmod_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    fs::write(p("empty.ko"), b"").unwrap();
    fs::write(p("five.ko"), b"\x7fELF\x02").unwrap();
    fs::write(
        p("garbage.ko"),
        (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut cut = module_bytes("cut");
    cut.truncate(cut.len() / 2);
    fs::write(p("cut.ko"), cut).unwrap();
    fs::create_dir(p("dir.ko")).unwrap();
    symlink("loop.ko", p("loop.ko")).unwrap();
    symlink("nowhere.ko", p("dangling.ko")).unwrap();
    for name in [
        "empty.ko",
        "five.ko",
        "garbage.ko",
        "cut.ko",
        "dir.ko",
        "loop.ko",
        "dangling.ko",
    ] {
        let file = p(name).into_os_string();
        let m = same_as_kmod("modinfo", &[&file]);
        assert_eq!(m.code, Some(1), "modinfo {name}");
        let stem = name.trim_end_matches(".ko");
        assert!(
            m.stderr.contains(stem),
            "modinfo {name} does not name it: {}",
            m.stderr
        );
        same_as_kmod("modprobe", &[&"--show-modversions".into(), &file]);
        same_as_kmod("modprobe", &[&"--show-exports".into(), &file]);
    }
}

/// Concatenated xz streams of 64 MiB of zeros: 10 KB each.
fn xz_bomb(streams: usize) -> Vec<u8> {
    let mut xz = Command::new("xz")
        .args(["-0", "-T1", "--check=crc32", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("xz is needed (tests/setup.sh installs it)");
    let mut stdin = xz.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            stdin.write_all(&zeros).unwrap();
        }
    });
    let one = xz.wait_with_output().unwrap().stdout;
    feeder.join().unwrap();
    one.repeat(streams)
}

#[test]
fn a_decompression_bomb_is_capped_in_memory_and_time() {
    let dir = tempfile::tempdir().unwrap();
    // 17 × 64 MiB: just over the 1 GiB cap, from 170 KB.
    let bomb = dir.path().join("bomb.ko.xz");
    fs::write(&bomb, xz_bomb(17)).unwrap();
    let m = measure(ours_cmd("modinfo").arg(&bomb), Duration::from_secs(120));
    assert_eq!(m.code, Some(1));
    assert_eq!(
        m.stderr,
        "modinfo: ERROR: could not get modinfo from 'bomb': Invalid argument\n"
    );
    assert!(
        m.max_rss_kb < 1_300_000,
        "modinfo peaked at {} KB",
        m.max_rss_kb
    );
    eprintln!(
        "modinfo on a 1.06 GiB xz bomb: {:?}, {} KB",
        m.cpu, m.max_rss_kb
    );

    // depmod's own reader, on a bomb that claims 2.5 GiB: it decoded it
    // twice and held 2.6 GB before.
    let moddir = dir.path().join("lib/modules/6.1.0-bomb/kernel");
    fs::create_dir_all(&moddir).unwrap();
    fs::write(moddir.join("bomb.ko.xz"), xz_bomb(40)).unwrap();
    fs::write(moddir.join("fine.ko"), module_bytes("fine")).unwrap();
    let m = depmod_under(dir.path(), "6.1.0-bomb", Duration::from_secs(120));
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(
        m.stderr.contains("failed to load symbols from "),
        "{}",
        m.stderr
    );
    assert!(
        m.stderr.contains("/kernel/bomb.ko.xz: Invalid argument"),
        "{}",
        m.stderr
    );
    assert!(
        m.max_rss_kb < 1_300_000,
        "depmod peaked at {} KB",
        m.max_rss_kb
    );
    // Listed without dependencies, as kmod lists a module it cannot read.
    let dep = fs::read_to_string(dir.path().join("lib/modules/6.1.0-bomb/modules.dep")).unwrap();
    assert!(
        dep.contains("kernel/bomb.ko.xz:\n") && dep.contains("kernel/fine.ko:\n"),
        "{dep}"
    );
    eprintln!(
        "depmod on a 2.5 GiB xz bomb: {:?}, {} KB",
        m.cpu, m.max_rss_kb
    );
}

#[test]
fn symlink_loops_in_the_module_tree_end() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("lib/modules/6.1.0-loop/kernel");
    fs::create_dir_all(kernel.join("sub")).unwrap();
    fs::write(kernel.join("sub/m.ko"), module_bytes("m")).unwrap();
    symlink("..", kernel.join("sub/up")).unwrap();
    symlink(".", kernel.join("here")).unwrap();
    symlink(&kernel, kernel.join("sub/abs")).unwrap();
    symlink("self.ko", kernel.join("self.ko")).unwrap();
    symlink("nowhere.ko", kernel.join("dangling.ko")).unwrap();
    // kmod's depmod follows these links until its path buffer overflows,
    // printing errors all the way; ours never enters a directory twice.
    let m = depmod_under(dir.path(), "6.1.0-loop", Duration::from_secs(30));
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(m
        .stderr
        .contains("depmod: ERROR: fstatat(4, self.ko): Too many levels of symbolic links\n"));
    assert!(m
        .stderr
        .contains("depmod: ERROR: fstatat(4, dangling.ko): No such file or directory\n"));
    let dep = fs::read_to_string(dir.path().join("lib/modules/6.1.0-loop/modules.dep")).unwrap();
    assert_eq!(dep, "kernel/sub/m.ko:\n");
}

#[test]
fn a_module_tree_of_100000_entries() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("lib/modules/6.1.0-wide/kernel");
    let module = dir.path().join("one.ko");
    fs::write(&module, module_bytes("wide")).unwrap();
    // 100 directories of 200 modules (hard links to one file) and 800
    // other files: 100,000 entries.
    for d in 0..100 {
        let sub = kernel.join(format!("d{d:02}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..200 {
            fs::hard_link(&module, sub.join(format!("m{d:02}_{f:03}.ko"))).unwrap();
        }
        for f in 0..800 {
            fs::File::create(sub.join(format!("f{f:03}.txt"))).unwrap();
        }
    }
    let m = depmod_under(dir.path(), "6.1.0-wide", Duration::from_secs(300));
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(
        m.max_rss_kb < 512_000,
        "depmod peaked at {} KB",
        m.max_rss_kb
    );
    eprintln!(
        "depmod over 100,000 entries (20,000 modules): {:?}, {} KB",
        m.cpu, m.max_rss_kb
    );
    let moddir = dir.path().join("lib/modules/6.1.0-wide");
    let dep = fs::read_to_string(moddir.join("modules.dep")).unwrap();
    assert_eq!(dep.lines().count(), 20_000);
    let alias = fs::read_to_string(moddir.join("modules.alias")).unwrap();
    assert_eq!(alias.lines().count(), 20_001); // plus the header comment
                                               // What it wrote is what modprobe reads.
    let m = measure(
        ours_cmd("modprobe")
            .arg("-d")
            .arg(dir.path())
            .args(["-S", "6.1.0-wide", "-D", "m42_123"]),
        Duration::from_secs(30),
    );
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(
        m.stdout.ends_with("/kernel/d42/m42_123.ko \n"),
        "{}",
        m.stdout
    );
}

#[test]
fn very_deep_directories_end_in_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("lib/modules/6.1.0-deep/kernel");
    fs::create_dir_all(&kernel).unwrap();
    fs::write(kernel.join("top.ko"), module_bytes("top")).unwrap();
    // 3,000 levels: past PATH_MAX and past the open-file limit, built
    // with *at() calls because the full path is too long for mkdir.
    let c = std::ffi::CString::new(kernel.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain descriptor calls on NUL-terminated names.
    let mut fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    assert!(fd >= 0);
    for _ in 0..3000 {
        let name = c"d";
        unsafe {
            assert_eq!(libc::mkdirat(fd, name.as_ptr(), 0o755), 0);
            let next = libc::openat(fd, name.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            assert!(next >= 0);
            libc::close(fd);
            fd = next;
        }
    }
    unsafe { libc::close(fd) };
    let m = depmod_under(dir.path(), "6.1.0-deep", Duration::from_secs(60));
    assert_eq!((m.code, m.signal), (Some(0), None), "{}", m.stderr);
    assert!(
        m.stderr.contains("directory path is too long") || m.stderr.contains("Too many open files"),
        "{}",
        m.stderr
    );
    let dep = fs::read_to_string(dir.path().join("lib/modules/6.1.0-deep/modules.dep")).unwrap();
    assert_eq!(dep, "kernel/top.ko:\n");
}

/// A fake system (the modprobe test tree as the running kernel's modules,
/// the fake kernel logging every call) with a module file outside the
/// module directory that no name may reach.
struct Sys {
    dir: tempfile::TempDir,
}

impl Sys {
    fn new() -> Sys {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        build_moddir(
            &fixtures().join("modprobe/tree"),
            &root.join("lib/modules/1.0"),
        );
        for (p, t) in [
            ("proc/sys/kernel/osrelease", "1.0\n"),
            ("proc/cmdline", ""),
            ("proc/modules", ""),
        ] {
            fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            fs::write(root.join(p), t).unwrap();
        }
        fs::create_dir_all(root.join("sys/module")).unwrap();
        fs::create_dir_all(root.join("tmp")).unwrap();
        fs::write(root.join("tmp/x.ko"), module_bytes("x")).unwrap();
        fs::write(root.join("x.ko"), module_bytes("x")).unwrap();
        Sys { dir }
    }

    fn modprobe(&self, args: &[&std::ffi::OsStr]) -> (Measured, String) {
        let log = self.dir.path().join("calls.log");
        let _ = fs::remove_file(&log);
        let m = measure(
            ours_cmd("modprobe")
                .args(args)
                .env("MODUTILS_SYSROOT", self.dir.path())
                .env("MODUTILS_FAKE_KERNEL", &log),
            Duration::from_secs(30),
        );
        (m, fs::read_to_string(&log).unwrap_or_default())
    }
}

#[test]
fn module_names_never_reach_outside_the_module_directory() {
    let s = Sys::new();
    let long = "x".repeat(100_000);
    let names = [
        "../../tmp/x",
        "../../../tmp/x.ko",
        "../../x",
        "tmp/x",
        "kernel/drivers/mod_a",
        "mod_a/../../../../tmp/x",
        "a\nb",
        "x\n",
        long.as_str(),
        "a[",
        "a]",
        "[",
        "mod_a[",
        "*",
    ];
    for name in names {
        let shown = if name.len() > 40 { &name[..40] } else { name };
        let (m, calls) = s.modprobe(&[name.as_ref()]);
        assert_eq!(m.code, Some(1), "{shown:?}");
        assert_eq!(calls, "", "{shown:?} reached the kernel");
        assert_eq!(
            m.stderr,
            format!("modprobe: FATAL: Module {name} not found in directory /lib/modules/1.0\n"),
            "{shown:?}"
        );
        let (m, calls) = s.modprobe(&["-r".as_ref(), name.as_ref()]);
        assert_eq!(m.code, Some(1), "-r {shown:?}");
        assert_eq!(calls, "", "-r {shown:?} reached the kernel");
        assert_eq!(
            m.stderr,
            format!("modprobe: FATAL: Module {name} not found.\n"),
            "-r {shown:?}"
        );
    }
    // Given explicitly as a path, the file is what the caller asked for.
    let (m, calls) = s.modprobe(&["/tmp/x.ko".as_ref()]);
    assert_eq!((m.code, m.stderr.as_str()), (Some(0), ""));
    assert_eq!(calls, "insert /tmp/x.ko \n");
}

/// kmod takes the words of MODPROBE_OPTIONS as options placed before the
/// command line's; nothing else may come in that way: not our own
/// extension options, not anything kmod refuses.
#[test]
fn modprobe_options_from_the_environment_are_only_kmods() {
    let tree = real_tree();
    let base: Vec<OsString> = vec![
        "-d".into(),
        tree.base.clone().into_os_string(),
        "-S".into(),
        tree.release.clone().into(),
        "-D".into(),
        "bttv".into(),
    ];
    // kmod takes minutes over 40,000 words; 4,000 it parses in a moment.
    let long = "-q ".repeat(4_000);
    let many_words = (0..2_000).map(|_| "-i").collect::<Vec<_>>().join(" ");
    for env in [
        "--json",
        "--tree",
        "--dot",
        "--graph",
        "--color=always",
        "-Z",
        "--bogus",
        "--show-depends=yes",
        "--dirname=/tmp",
        "-d/nonexistent",
        "--set-version=0.0",
        "-r",
        "--remove-holders",
        "--first-time --ignore-install",
        "mod_a",
        "'--json'",
        "\"--tree\" -q",
        "-q\t--json",
        long.as_str(),
        many_words.as_str(),
    ] {
        let runs = [oracle("modprobe"), ours("modprobe")].map(|p| {
            let mut c = tool(&p);
            c.args(&base).env("MODPROBE_OPTIONS", env);
            measure(&mut c, Duration::from_secs(60))
        });
        if let Some(d) = difference(&runs[0], &runs[1]) {
            panic!("MODPROBE_OPTIONS={:?}: {d}", short(env));
        }
    }
}

/// A path given to `-C`, hostile in content or in kind. Each must finish
/// quickly with kmod's messages (kmod itself would block on a FIFO and
/// read `/dev/zero` forever: those two are ours only).
#[test]
fn hostile_configuration_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let mut long_line = b"options mod_a ".to_vec();
    long_line.extend(std::iter::repeat_n(b'x', 1 << 20));
    long_line.push(b'\n');
    fs::write(p("long.conf"), &long_line).unwrap();
    let mut cont = b"alias hostile_cont".to_vec();
    for _ in 0..10_000 {
        cont.extend_from_slice(b" \\\n");
    }
    cont.extend_from_slice(b"mod_a\nbogus\n");
    fs::write(p("cont.conf"), &cont).unwrap();
    let garbage: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(p("garbage.conf"), &garbage).unwrap();
    fs::create_dir_all(p("confdir/sub.conf")).unwrap();
    fs::write(p("confdir/ok.conf"), "alias hostile_ok mod_a\n").unwrap();
    let tree = real_tree();
    for name in [
        "long.conf",
        "cont.conf",
        "garbage.conf",
        "confdir",
        "confdir/sub.conf",
    ] {
        let conf = p(name).into_os_string();
        let args: Vec<OsString> = vec![
            "-C".into(),
            conf,
            "-d".into(),
            tree.base.clone().into_os_string(),
            "-S".into(),
            tree.release.clone().into(),
            "-c".into(),
        ];
        let refs: Vec<&OsString> = args.iter().collect();
        let m = same_as_kmod("modprobe", &refs);
        assert!(m.cpu < Duration::from_secs(30), "{name}: {:?}", m.cpu);
    }

    let root_args = |conf: &Path| -> Vec<OsString> {
        vec![
            "-C".into(),
            conf.as_os_str().to_owned(),
            "-d".into(),
            tree.base.clone().into_os_string(),
            "-S".into(),
            tree.release.clone().into(),
            "-R".into(),
            "hostile_ok".into(),
        ]
    };
    // Each time: the name still resolves through the good file.
    let resolve = || {
        let m = measure(
            ours_cmd("modprobe").args(root_args(&p("confdir"))),
            Duration::from_secs(30),
        );
        assert_eq!(
            (m.code, m.stdout.as_str()),
            (Some(0), "mod_a\n"),
            "{}",
            m.stderr
        );
        m
    };
    // Entries that cannot be stat'ed are named (kmod 34's message; kmod 30
    // passes over them silently, so this part is ours alone).
    symlink("loop.conf", p("confdir/loop.conf")).unwrap();
    symlink("nowhere", p("confdir/dangling.conf")).unwrap();
    let m = resolve();
    for n in ["loop.conf", "dangling.conf"] {
        let line = format!(
            "libkmod: ERROR: conf_files_filter_out: Cannot stat directory entry: {}\n",
            p("confdir").join(n).display()
        );
        assert!(m.stderr.contains(&line), "{}", m.stderr);
    }
    // A FIFO with no writer reads as empty.
    let fifo = p("confdir/fifo.conf");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let m = resolve();
    assert!(
        m.stderr
            .contains("Directories inside directories are not supported: "),
        "{}",
        m.stderr
    );
    // An endless file is read up to 64 MiB, and said so.
    let m = measure(
        ours_cmd("modprobe").args(root_args(Path::new("/dev/zero"))),
        Duration::from_secs(60),
    );
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    assert!(
        m.stderr
            .contains("/dev/zero: stopped reading after 67108864 bytes"),
        "{}",
        m.stderr
    );
    assert!(m.max_rss_kb < 400_000, "{} KB", m.max_rss_kb);
}

/// In a child before exec: the standard descriptors only, every signal
/// at its default and none blocked, whatever the test harness inherited
/// (a background job ignores SIGINT and SIGQUIT, `nohup` SIGHUP).
///
/// # Safety
/// Only async-signal-safe calls, as `pre_exec` requires.
unsafe fn known_start() {
    // SAFETY: every call is async-signal-safe; SIGKILL and SIGSTOP
    // refuse the change, harmlessly.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        for sig in 1..libc::SIGRTMIN() {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// An install or remove command runs with exactly the documented
/// environment (docs/modprobe.md): the caller's variables plus
/// `MODPROBE_MODULE` (and `MODPROBE_OPTIONS` when modprobe was given -C, -q,
/// -v or -s), standard descriptors only, no signal blocked or ignored.
#[test]
fn install_and_remove_commands_get_a_known_environment() {
    let s = Sys::new();
    let out = s.dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let probe = |tag: &str| {
        let o = out.display();
        format!(
            "ls /proc/$$/fd > {o}/{tag}.fds; env > {o}/{tag}.env; grep -E '^Sig(Blk|Ign)' /proc/self/status > {o}/{tag}.sig"
        )
    };
    fs::create_dir_all(s.dir.path().join("etc/modprobe.d")).unwrap();
    fs::write(
        s.dir.path().join("etc/modprobe.d/cmds.conf"),
        format!(
            "install mod_a {}\nremove mod_a {}\n",
            probe("install"),
            probe("remove")
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let log = s.dir.path().join("calls.log");
        let mut c = Command::new(ours("modprobe"));
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("CALLER_VAR", "kept")
            .env("MODUTILS_SYSROOT", s.dir.path())
            .env("MODUTILS_FAKE_KERNEL", &log);
        // modprobe starts with the standard descriptors only (the test
        // harness may hold others open) and default signal dispositions (a
        // harness started in the background ignores SIGINT and SIGQUIT),
        // so anything else comes from it.
        // SAFETY: close_range and signal are async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                known_start();
                Ok(())
            });
        }
        measure(&mut c, Duration::from_secs(30))
    };
    // The same probe run by `sh -c` straight from here: the shell's own
    // descriptors (dash keeps a saved copy of a redirected one) are in both.
    let mut baseline = Command::new("sh");
    baseline.arg("-c").arg(probe("baseline"));
    // SAFETY: as above.
    unsafe {
        baseline.pre_exec(|| {
            known_start();
            Ok(())
        });
    }
    assert_eq!(
        measure(&mut baseline, Duration::from_secs(30)).code,
        Some(0)
    );
    let base_fds = fs::read_to_string(out.join("baseline.fds")).unwrap();
    let m = run(&["mod_a"]);
    assert_eq!((m.code, m.stderr.as_str()), (Some(0), ""));
    let m = run(&["-q", "-r", "mod_a"]);
    assert_eq!((m.code, m.stderr.as_str()), (Some(0), ""));
    for (tag, options) in [("install", None), ("remove", Some("-q"))] {
        let env = fs::read_to_string(out.join(format!("{tag}.env"))).unwrap();
        let mut vars: Vec<&str> = env
            .lines()
            // What the shell itself adds.
            .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_="))
            .collect();
        vars.sort_unstable();
        let sysroot = format!("MODUTILS_SYSROOT={}", s.dir.path().display());
        let fake = format!(
            "MODUTILS_FAKE_KERNEL={}",
            s.dir.path().join("calls.log").display()
        );
        let mut want = vec![
            "CALLER_VAR=kept",
            "MODPROBE_MODULE=mod_a",
            &fake,
            &sysroot,
            "PATH=/usr/bin:/bin",
        ];
        let opts = options.map(|o| format!("MODPROBE_OPTIONS={o}"));
        if let Some(o) = &opts {
            want.push(o);
        }
        want.sort_unstable();
        assert_eq!(vars, want, "{tag} command environment");
        let fds = fs::read_to_string(out.join(format!("{tag}.fds"))).unwrap();
        assert_eq!(fds, base_fds, "{tag} descriptors");
        let sig = fs::read_to_string(out.join(format!("{tag}.sig"))).unwrap();
        // As for a command started straight from here, glibc's internal
        // real-time signals (32, 33) aside: SIGPIPE was ignored before,
        // inherited from Rust's runtime through system(3).
        let base_sig = fs::read_to_string(out.join("baseline.sig")).unwrap();
        let masks = |text: &str| -> Vec<u64> {
            text.lines()
                .map(|l| {
                    u64::from_str_radix(l.split('\t').nth(1).unwrap(), 16).unwrap() & !(3u64 << 31)
                })
                .collect()
        };
        assert_eq!(masks(&sig), masks(&base_sig), "{tag} signals: {sig:?}");
        assert_eq!(masks(&sig), [0, 0], "{tag} signals: {sig:?}");
    }
}

/// Config files the caller cannot read (run as nobody, since root reads
/// everything): modprobe skips them without a word and depmod names them,
/// both as kmod does.
#[test]
fn unreadable_configuration_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    fs::create_dir(&conf).unwrap();
    fs::write(
        conf.join("a.conf"),
        "alias readable_alias mod_a\nsearch updates\n",
    )
    .unwrap();
    fs::write(conf.join("secret.conf"), "alias secret_alias mod_b\n").unwrap();
    fs::set_permissions(conf.join("secret.conf"), fs::Permissions::from_mode(0o000)).unwrap();
    let kernel = dir.path().join("lib/modules/6.1.0-perm/kernel");
    fs::create_dir_all(&kernel).unwrap();
    fs::write(kernel.join("m.ko"), module_bytes("m")).unwrap();
    for p in [
        dir.path(),
        conf.as_path(),
        &dir.path().join("lib"),
        &dir.path().join("lib/modules"),
        kernel.parent().unwrap(),
        &kernel,
    ] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(conf.join("a.conf"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(kernel.join("m.ko"), fs::Permissions::from_mode(0o644)).unwrap();
    let as_nobody = |program: &Path, args: &[&std::ffi::OsStr]| {
        let mut c = tool(program);
        c.args(args).current_dir("/");
        // SAFETY: setgid/setuid between fork and exec.
        unsafe {
            c.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        measure(&mut c, Duration::from_secs(60))
    };
    // /root is closed to nobody: a tree of our own, readable by all.
    let base = dir.path().as_os_str();
    let rel = std::ffi::OsString::from("6.1.0-perm");
    for resolve in ["readable_alias", "secret_alias"] {
        let args: [&std::ffi::OsStr; 8] = [
            "-C".as_ref(),
            conf.as_os_str(),
            "-d".as_ref(),
            base,
            "-S".as_ref(),
            &rel,
            "-R".as_ref(),
            resolve.as_ref(),
        ];
        let theirs = as_nobody(&oracle("modprobe"), &args);
        let mine = as_nobody(&ours("modprobe"), &args);
        if let Some(d) = difference(&theirs, &mine) {
            panic!("modprobe -R {resolve} as nobody: {d}");
        }
    }
    let args: [&std::ffi::OsStr; 5] = [
        "-n".as_ref(),
        "-C".as_ref(),
        conf.as_os_str(),
        "-b".as_ref(),
        dir.path().as_os_str(),
    ];
    let mut with_version: Vec<&std::ffi::OsStr> = args.to_vec();
    with_version.push("6.1.0-perm".as_ref());
    let theirs = as_nobody(&oracle("depmod"), &with_version);
    let mine = as_nobody(&ours("depmod"), &with_version);
    let line = format!(
        "depmod: ERROR: file parse {}: Permission denied\n",
        conf.join("secret.conf").display()
    );
    assert!(mine.stderr.contains(&line), "{}", mine.stderr);
    assert!(theirs.stderr.contains(&line), "kmod: {}", theirs.stderr);
    // kmod 30 has no modules.weakdep section (docs/compat.md, "kmod 30 and 34.2").
    let mine_30 = mine.stdout.replace(
        "# Weak dependencies extracted from modules themselves.\n",
        "",
    );
    assert_eq!((mine.code, &mine_30), (theirs.code, &theirs.stdout));
}

/// `/proc/modules` as no kernel writes it — binary garbage, 100,000 lines,
/// fields missing, numbers out of range — through lsmod (which the
/// `procfs` fuzz target covers as a parser): no crash, bounded time.
#[test]
fn hostile_proc_modules_through_lsmod() {
    let mut lines = String::new();
    for i in 0..100_000 {
        lines.push_str(&format!(
            "m{i} 16384 {} m{},[permanent], Live 0xffffffffc0000000 (OE)\n",
            i % 7,
            i + 1
        ));
    }
    let garbage: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", garbage),
        ("100,000 lines", lines.into_bytes()),
        ("fields missing", b"a\nb 1\nc 1 2\n\n \n\t\n".to_vec()),
        (
            "numbers out of range",
            b"a 99999999999999999999999 -99999999999999999999 - Live 0xfffffffffffffffffff\n"
                .to_vec(),
        ),
        (
            "one 1 MiB name",
            [vec![b'x'; 1 << 20], b" 1 0 - Live 0x0\n".to_vec()].concat(),
        ),
    ];
    for (what, content) in cases {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc")).unwrap();
        fs::create_dir_all(dir.path().join("sys/module")).unwrap();
        fs::write(dir.path().join("proc/modules"), &content).unwrap();
        let m = measure(
            ours_cmd("lsmod").env("MODUTILS_SYSROOT", dir.path()),
            Duration::from_secs(60),
        );
        assert_eq!(m.signal, None, "{what}");
        assert!(matches!(m.code, Some(0 | 1)), "{what}: exit {:?}", m.code);
        assert!(m.cpu < Duration::from_secs(30), "{what}: {:?}", m.cpu);
        assert!(
            m.stdout
                .starts_with("Module                  Size  Used by\n"),
            "{what}"
        );
    }
}
