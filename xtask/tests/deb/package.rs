//! `cargo xtask deb` from given binaries, checked against what is real on
//! this Debian host: the installed kmod package's files, conffiles and
//! maintainer scripts (`dpkg -L`, /var/lib/dpkg/info), the archive's
//! dependencies on kmod and libkmod2 (`apt-cache`), and apt's own answer to
//! installing the package (`apt-get -s`). The build of the package's
//! binaries (profile, linking) is checked by tests/debian-vm/run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{kmod_binary, ok, text};

/// Debian's real libkmod.so.2 (libkmod2): a library with the right SONAME
/// and exports, so that these tests need no build of ours (the package of
/// our own build is checked by tests/debian-vm/run).
const DEBIAN_LIBKMOD: &str = "/usr/lib/x86_64-linux-gnu/libkmod.so.2";

/// Builds the package into `out` and unpacks it (files in `out/root`,
/// control area in `out/control`).
fn package(out: &Path) -> PathBuf {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("deb")
        .arg("--binary")
        .arg(kmod_binary())
        .arg("--out")
        .arg(out);
    let lib = std::fs::canonicalize(DEBIAN_LIBKMOD).expect("libkmod2 is installed");
    cmd.arg("--library").arg(lib);
    let built = cmd.output().unwrap();
    ok(&built, "xtask deb");
    // The last line names the package.
    let deb = PathBuf::from(text(&built.stdout).lines().last().unwrap_or_default());
    assert!(deb.starts_with(out), "{}", deb.display());
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        name.starts_with(&format!("modutils_{version}_")) && name.ends_with(".deb"),
        "{name}"
    );
    for (flag, dir) in [("-x", "root"), ("-e", "control")] {
        let st = Command::new("dpkg-deb")
            .arg(flag)
            .arg(&deb)
            .arg(out.join(dir))
            .status()
            .unwrap();
        assert!(st.success(), "dpkg-deb {flag}");
    }
    deb
}

fn field(deb: &Path, name: &str) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(name)
        .output()
        .unwrap();
    ok(&out, "dpkg-deb -f");
    text(&out.stdout).trim().to_string()
}

fn lines(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    ok(&out, &format!("{cmd:?}"));
    text(&out.stdout).lines().map(String::from).collect()
}

/// Every file and link of Debian's kmod package is in ours, at the same
/// path (on merged /usr the path dpkg records decides which files removing
/// kmod deletes), except kmod's documentation and section 5 pages.
#[test]
fn the_package_has_every_file_of_debian_kmod_where_kmod_has_it() {
    let tmp = tempfile::tempdir().unwrap();
    package(tmp.path());
    let root = tmp.path().join("root");
    let kmod_files = lines(Command::new("dpkg").args(["-L", "kmod"]));
    let mut missing = Vec::new();
    for path in &kmod_files {
        let p = Path::new(path);
        let ours = root.join(path.trim_start_matches('/'));
        let is_dir = Path::new(path).is_dir() && !Path::new(path).is_symlink();
        let skipped = path.starts_with("/usr/share/doc")
            || path.starts_with("/usr/share/man/man5")
            || path.starts_with("/usr/share/man/fr");
        if skipped || p == Path::new("/.") {
            continue;
        }
        if is_dir && !ours.is_dir() || !is_dir && std::fs::symlink_metadata(&ours).is_err() {
            missing.push(path.clone());
        }
    }
    assert!(missing.is_empty(), "not in our package: {missing:?}");
    assert!(
        kmod_files.iter().any(|f| f == "/bin/kmod"),
        "{kmod_files:?}"
    );

    // Each tool's link leads to our binary.
    for tool in ["depmod", "insmod", "lsmod", "modinfo", "modprobe", "rmmod"] {
        let link = root.join("sbin").join(tool);
        let target = std::fs::read_link(&link).unwrap();
        assert_eq!(
            link.parent().unwrap().join(&target),
            root.join("sbin/../bin/kmod")
        );
    }
    assert_eq!(
        std::fs::read_link(root.join("bin/lsmod")).unwrap(),
        Path::new("kmod")
    );
    // Our binary, stripped.
    let kmod = Command::new(root.join("bin/kmod"))
        .arg("-V")
        .output()
        .unwrap();
    ok(&kmod, "kmod -V");
    assert!(text(&kmod.stdout).starts_with("kmod version 34.2\n"));
    let symbols = Command::new("nm")
        .arg(root.join("bin/kmod"))
        .output()
        .unwrap();
    assert_eq!(
        text(&symbols.stderr).trim(),
        format!("nm: {}: no symbols", root.join("bin/kmod").display())
    );
    // The directories modprobe and depmod read.
    for dir in ["etc/modprobe.d", "lib/modprobe.d", "etc/depmod.d"] {
        assert!(root.join(dir).is_dir(), "{dir}");
    }
}

/// Maintainer scripts where Debian's kmod has them, and no others; the
/// same conffiles; the initramfs rebuilt after an installation, as kmod's
/// triggers ask (and ldconfig, as libkmod2's do).
#[test]
fn control_area_follows_debian_kmod() {
    let tmp = tempfile::tempdir().unwrap();
    package(tmp.path());
    let control = tmp.path().join("control");
    let info = Path::new("/var/lib/dpkg/info");
    for script in ["preinst", "postinst", "prerm", "postrm", "config"] {
        assert_eq!(
            control.join(script).is_file(),
            info.join(format!("kmod.{script}")).is_file(),
            "{script}"
        );
    }
    let conffiles = |p: &Path| -> BTreeSet<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    };
    assert_eq!(
        conffiles(&control.join("conffiles")),
        conffiles(&info.join("kmod.conffiles"))
    );
    let triggers = std::fs::read_to_string(control.join("triggers")).unwrap();
    assert!(
        triggers.contains("activate-noawait update-initramfs\n"),
        "{triggers}"
    );
    // Every file dpkg will check is in md5sums.
    let sums = std::fs::read_to_string(control.join("md5sums")).unwrap();
    assert!(
        sums.contains("  bin/kmod\n") && sums.contains("  etc/init.d/kmod\n"),
        "{sums}"
    );
}

/// What our package provides satisfies every versioned dependency of
/// Debian 12 on kmod and libkmod2 (udev, systemd, dracut-core, pciutils,
/// …) as the archive states them.
#[test]
fn provides_satisfy_the_archive_dependencies() {
    let tmp = tempfile::tempdir().unwrap();
    let deb = package(tmp.path());
    let provides = field(&deb, "Provides");
    let provided: Vec<(String, String)> = provides
        .split(", ")
        .map(|p| {
            let (name, version) = p.split_once(" (= ").expect("versioned provides");
            (name.to_string(), version.trim_end_matches(')').to_string())
        })
        .collect();
    let names: Vec<&str> = provided.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["kmod", "libkmod2", "libkmod-dev"]);
    for f in ["Conflicts", "Replaces"] {
        assert_eq!(field(&deb, f), "kmod, libkmod2, libkmod-dev", "{f}");
    }

    let mut checked = BTreeSet::new();
    for pkg in [
        "udev",
        "systemd",
        "libsystemd-shared",
        "initramfs-tools-core",
        "dracut-core",
        "pciutils",
        "alsa-utils",
        "libblockdev-utils2",
    ] {
        let show = lines(Command::new("apt-cache").args(["show", "--no-all-versions", pkg]));
        assert!(
            !show.is_empty(),
            "apt-cache knows no {pkg}: run apt-get update"
        );
        for line in &show {
            let Some(deps) = line
                .strip_prefix("Depends: ")
                .or_else(|| line.strip_prefix("Pre-Depends: "))
            else {
                continue;
            };
            for clause in deps.split(", ") {
                let clause = clause.trim();
                let (name, constraint) = match clause.split_once(" (") {
                    Some((n, c)) => (n, Some(c.trim_end_matches(')'))),
                    None => (clause, None),
                };
                let Some((_, version)) = provided.iter().find(|(n, _)| n == name) else {
                    continue;
                };
                checked.insert(format!("{pkg}: {clause}"));
                if let Some(c) = constraint {
                    let (op, want) = c.split_once(' ').unwrap();
                    let st = Command::new("dpkg")
                        .args(["--compare-versions", version, op, want])
                        .status()
                        .unwrap();
                    assert!(st.success(), "{pkg} needs {clause}; we provide {version}");
                }
            }
        }
    }
    // The dependencies that matter were seen, not skipped.
    for want in [
        "udev: libkmod2",
        "systemd: libkmod2",
        "dracut-core: kmod",
        "pciutils: libkmod2",
    ] {
        assert!(
            checked.iter().any(|c| c.starts_with(want)),
            "{want} not among {checked:?}"
        );
    }
}

/// apt, asked on this host, swaps kmod and libkmod2 for our package and
/// removes nothing else (systemd here needs libkmod2).
#[test]
fn apt_would_replace_kmod_and_libkmod2_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let deb = package(tmp.path());
    let out = Command::new("apt-get")
        .args(["install", "--simulate", "--no-install-recommends"])
        .arg(&deb)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    ok(&out, "apt-get install --simulate");
    let plan = text(&out.stdout);
    let removed: BTreeSet<&str> = plan
        .lines()
        .filter_map(|l| l.strip_prefix("Remv "))
        .filter_map(|l| l.split_whitespace().next())
        .map(|p| p.trim_end_matches(":amd64"))
        .collect();
    let allowed = BTreeSet::from(["kmod", "libkmod2", "libkmod-dev"]);
    assert!(
        removed.is_subset(&allowed),
        "apt would remove {removed:?}:\n{plan}"
    );
    assert!(
        removed.contains("kmod") && removed.contains("libkmod2"),
        "{plan}"
    );
    assert!(
        plan.lines().any(|l| l.starts_with("Inst modutils ")),
        "{plan}"
    );
}

/// The library where libkmod2 and libkmod-dev have their files, the
/// dynamic linker's SONAME link, the header, a pkg-config file, shlibs for
/// packages built against it, and ldconfig triggered.
#[test]
fn the_library_goes_where_libkmod2_has_it() {
    let tmp = tempfile::tempdir().unwrap();
    package(tmp.path());
    let root = tmp.path().join("root");
    let libdir = root.join("usr/lib/x86_64-linux-gnu");
    let soname = std::fs::read_link(libdir.join("libkmod.so.2")).unwrap();
    // The library, stripped of nothing it exports.
    let exports = |lib: &Path| {
        let out = Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(lib)
            .output()
            .unwrap();
        ok(&out, "nm -D");
        text(&out.stdout)
    };
    assert_eq!(
        exports(&libdir.join(&soname)),
        exports(Path::new(DEBIAN_LIBKMOD))
    );
    assert_eq!(
        std::fs::read_link(libdir.join("libkmod.so")).unwrap(),
        Path::new("libkmod.so.2")
    );
    let pc = std::fs::read_to_string(libdir.join("pkgconfig/libkmod.pc")).unwrap();
    assert!(pc.contains("Libs: -L${libdir} -lkmod"), "{pc}");
    assert!(pc.contains("libdir=/usr/lib/x86_64-linux-gnu\n"), "{pc}");
    assert!(root.join("usr/include/libkmod.h").is_file());
    // A library, not a program: mode 0644 as Debian ships libkmod2's.
    let mode = std::fs::metadata(libdir.join(&soname))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o644
    );
    let control = tmp.path().join("control");
    let triggers = std::fs::read_to_string(control.join("triggers")).unwrap();
    assert!(
        triggers.contains("activate-noawait ldconfig\n"),
        "{triggers}"
    );
    let shlibs = std::fs::read_to_string(control.join("shlibs")).unwrap();
    assert!(shlibs.starts_with("libkmod 2 libkmod2 "), "{shlibs}");
}
