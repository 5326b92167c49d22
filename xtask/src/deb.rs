//! `cargo xtask deb`: the Debian package `modutils_<version>_<arch>.deb`,
//! which takes the place of Debian's `kmod`, `libkmod2` and `libkmod-dev`.
//! Layout, control fields and build choices: docs/debian.md.
//!
//! The files are laid out by `cargo xtask install --prefix /usr --libdir
//! /usr/lib/<multiarch>` into a staging directory, then the tools move to `/bin` and `/sbin`: on a
//! merged-/usr system `/bin/kmod` and `/usr/bin/kmod` are one file, and dpkg
//! removes the paths the replaced package listed; had we listed
//! `/usr/bin/kmod`, removing kmod's `/bin/kmod` would delete our binary.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{install, parse_install, symlink, workspace, write_file, LIBRARY_FILE};

/// The kmod release whose tools and library ours stand in for: the version
/// our package provides `kmod`, `libkmod2` and `libkmod-dev` at. Debian 12
/// asks for at most `libkmod2 (>= 30~)` and `kmod (>= 17-1~)`.
const KMOD_VERSION: &str = "34.2";
const PACKAGE: &str = "modutils";
/// The package's version is the workspace's behind an epoch: Debian knew a
/// `modutils` package before (Linux 2.4's module tools, up to 2.4.27), and
/// binutils still conflicts with `modutils (<< 2.4.19-1)`.
const EPOCH: &str = "1:";
/// The cargo package that builds `libkmod.so.2`.
const LIBRARY_PACKAGE: &str = "modutils-libkmod";

const PREINST: &str = include_str!("../debian/preinst");
const POSTINST: &str = include_str!("../debian/postinst");
const POSTRM: &str = include_str!("../debian/postrm");
const INIT_SCRIPT: &str = include_str!("../debian/init.d-kmod");
const INITRAMFS_HOOK: &str = include_str!("../debian/initramfs-hook");
const MODPROBE_DEFAULTS: &str = include_str!("../debian/aliases.conf");
const COPYRIGHT: &str = include_str!("../debian/copyright");

pub const USAGE: &str = "\
usage: cargo xtask deb [--out DIR] [--binary FILE --library FILE]

  --out DIR       where the .deb goes (default target/debian)
  --binary FILE   package FILE as kmod instead of building it
  --library FILE  package FILE as libkmod.so.2 (goes with --binary)

Without them, builds kmod with the `deb` profile and libkmod.so.2 with
`deb-lib`: the system's liblzma, libzstd and zlib, opened when a module
needs them, the unwinder linked in, stripped; kmod aborts on a panic, the
library unwinds to catch it.
";

/// What goes into the package.
struct Inputs {
    kmod: PathBuf,
    library: PathBuf,
}

pub fn run(args: &[OsString]) -> Result<(), String> {
    let ws = workspace();
    let target = target_dir(&ws);
    let mut out = target.join("debian");
    let mut kmod = None;
    let mut library = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .ok_or(format!("{} needs a value", a.to_string_lossy()))
        };
        match a.to_str() {
            Some("--out") => out = value()?,
            Some("--binary") => kmod = Some(value()?),
            Some("--library") => library = Some(value()?),
            _ => {
                return Err(format!(
                    "unknown argument '{}'\n{USAGE}",
                    a.to_string_lossy()
                ))
            }
        }
    }
    let inputs = match (kmod, library) {
        (None, None) => build(&ws, &target)?,
        (Some(kmod), Some(library)) => Inputs { kmod, library },
        _ => return Err("--binary and --library go together".into()),
    };
    // The files are staged beside the package, so that two runs with
    // different outputs (tests) do not meet.
    let deb = package(&inputs, &out.join("stage"), &out)?;
    println!("{}", deb.display());
    Ok(())
}

fn target_dir(ws: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| ws.join("target"), PathBuf::from)
}

/// Runs a program, failing with its name and stderr.
fn output(cmd: &mut Command) -> Result<String, String> {
    let name = format!("{:?}", cmd.get_program());
    let out = cmd.output().map_err(|e| format!("running {name}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// --- the build -----------------------------------------------------------

/// Rust's standard library asks for the shared libgcc_s (its unwinder),
/// which Debian's kmod does not need. The linker takes the first
/// `libgcc_s` it finds on the search path: a directory where that name is
/// gcc's static unwinder, libgcc_eh.a, links the unwinder into our
/// binaries instead. Unwinding still works, so the library's
/// catch_unwind boundary stays.
fn static_unwinder_dir(target: &Path) -> Result<PathBuf, String> {
    let eh = output(Command::new("cc").arg("-print-file-name=libgcc_eh.a"))?;
    let eh = PathBuf::from(eh.trim());
    if !eh.is_absolute() || !eh.is_file() {
        return Err("cc does not know libgcc_eh.a (install gcc)".into());
    }
    let dir = target.join("deb-link");
    symlink(&eh, &dir.join("libgcc_s.a"))?;
    Ok(dir)
}

fn build(ws: &Path, target: &Path) -> Result<Inputs, String> {
    let link_dir = static_unwinder_dir(target)?;
    let mut flags: Vec<String> = std::env::var("RUSTFLAGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    flags.push("-L".into());
    flags.push(format!("native={}", link_dir.display()));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Two builds: a panic strategy holds for everything linked together.
    let builds: [(&str, &[&str]); 2] = [
        ("deb", &["-p", "modutils", "--bin", "kmod"]),
        ("deb-lib", &["-p", LIBRARY_PACKAGE, "--lib"]),
    ];
    for (profile, what) in builds {
        let status = Command::new(&cargo)
            .current_dir(ws)
            .env_remove("RUSTFLAGS")
            .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
            .args(["build", "--profile", profile, "--locked"])
            .args(["--features", "modutils-core/system-libs"])
            .args(what)
            .status()
            .map_err(|e| format!("running cargo: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --profile {profile} failed"));
        }
    }
    let kmod = target.join("deb").join("kmod");
    let library = target.join("deb-lib").join("libkmod.so");
    check_needed(&kmod)?;
    check_needed(&library)?;
    Ok(Inputs { kmod, library })
}

fn needed_and_soname(elf: &Path) -> Result<(Vec<String>, Option<String>), String> {
    let dynamic = output(Command::new("readelf").arg("-dW").arg(elf))?;
    let field = |l: &str| {
        l.split('[')
            .nth(1)
            .map(|s| s.trim_end_matches(']').to_string())
    };
    let needed = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(field)
        .collect();
    let soname = dynamic
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(field);
    Ok((needed, soname))
}

/// A package binary must ask for no library Debian's kmod does without,
/// and carry its own unwinder: without one, the library's catch_unwind
/// boundary could not stop a panic.
fn check_needed(elf: &Path) -> Result<(), String> {
    let (needed, _) = needed_and_soname(elf)?;
    if let Some(bad) = needed.iter().find(|n| n.starts_with("libgcc_s")) {
        return Err(format!("{} needs {bad}", elf.display()));
    }
    // Opened when a module is compressed, never at start-up.
    let loaded_later = ["liblzma", "libzstd", "libz."];
    if let Some(bad) = needed
        .iter()
        .find(|n| loaded_later.iter().any(|l| n.starts_with(l)))
    {
        return Err(format!(
            "{} is linked to {bad}, which it should open only when needed",
            elf.display()
        ));
    }
    let imported = output(Command::new("nm").args(["-D", "--undefined-only"]).arg(elf))?;
    if let Some(sym) = imported.lines().find(|l| l.contains("_Unwind_")) {
        return Err(format!(
            "{} takes its unwinder from elsewhere: {}",
            elf.display(),
            sym.trim()
        ));
    }
    Ok(())
}

// --- the package ---------------------------------------------------------

fn package(inputs: &Inputs, stage: &Path, out: &Path) -> Result<PathBuf, String> {
    let arch = output(Command::new("dpkg").arg("--print-architecture"))?;
    let arch = arch.trim();
    // dpkg-shlibdeps wants the tree at debian/<package> beside a control file.
    let root = stage.join("debian").join(PACKAGE);
    if stage.exists() {
        fs::remove_dir_all(stage).map_err(|e| format!("emptying {}: {e}", stage.display()))?;
    }
    lay_out(inputs, &root)?;

    // liblzma, libzstd and zlib are opened when a module needs them, so
    // dpkg-shlibdeps does not see them: named here, from the oldest
    // versions with the functions used.
    let depends = format!("{}, {DLOPENED}", shlib_depends(stage, &root)?);
    let replaced = ["kmod", "libkmod2", "libkmod-dev"];
    let provides: Vec<String> = replaced
        .iter()
        .map(|p| format!("{p} (= {KMOD_VERSION})"))
        .collect();
    let control = format!(
        "Package: {PACKAGE}\n\
         Version: {EPOCH}{version}\n\
         Architecture: {arch}\n\
         Maintainer: modutils developers <modutils@invalid>\n\
         Installed-Size: {size}\n\
         Depends: {depends}\n\
         Provides: {provides}\n\
         Conflicts: {replaced}\n\
         Replaces: {replaced}\n\
         Section: admin\n\
         Priority: important\n\
         Description: Linux kernel module tools and libkmod, in Rust\n \
         insmod, rmmod, lsmod, modprobe, depmod, modinfo and the multicall kmod,\n \
         compatible with kmod {KMOD_VERSION} in options, output and exit codes,\n \
         and libkmod.so.2 with kmod's C interface, header and pkg-config file.\n \
         The package takes the place of Debian's {replaced_text}.\n",
        version = env!("CARGO_PKG_VERSION"),
        size = installed_size(&root)?,
        provides = provides.join(", "),
        replaced = replaced.join(", "),
        replaced_text = replaced.join(", "),
    );
    let debian = root.join("DEBIAN");
    write_file(&debian.join("control"), control.as_bytes(), 0o644)?;
    write_file(&debian.join("conffiles"), b"/etc/init.d/kmod\n", 0o644)?;
    write_file(&debian.join("preinst"), PREINST.as_bytes(), 0o755)?;
    write_file(&debian.join("postinst"), POSTINST.as_bytes(), 0o755)?;
    write_file(&debian.join("postrm"), POSTRM.as_bytes(), 0o755)?;
    // The initramfs holds our kmod: rebuild it; ldconfig learns the library.
    let triggers = "activate-noawait update-initramfs\nactivate-noawait ldconfig\n";
    write_file(&debian.join("triggers"), triggers.as_bytes(), 0o644)?;
    let shlibs = format!("libkmod 2 libkmod2 (>= {KMOD_VERSION})\n");
    write_file(&debian.join("shlibs"), shlibs.as_bytes(), 0o644)?;
    write_md5sums(&root)?;

    fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let deb = out.join(format!(
        "{PACKAGE}_{}_{arch}.deb",
        env!("CARGO_PKG_VERSION")
    ));
    output(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(&root)
            .arg(&deb),
    )?;
    Ok(deb)
}

/// The package's files under `root`.
fn lay_out(inputs: &Inputs, root: &Path) -> Result<(), String> {
    let multiarch = output(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"))?;
    let libdir = Path::new("/usr/lib").join(multiarch.trim());
    let mut args: Vec<OsString> = vec!["--prefix".into(), "/usr".into()];
    args.extend(["--libdir".into(), libdir.as_os_str().to_owned()]);
    args.extend(["--destdir".into(), root.as_os_str().to_owned()]);
    args.extend(["--binary".into(), inputs.kmod.as_os_str().to_owned()]);
    args.extend(["--library".into(), inputs.library.as_os_str().to_owned()]);
    install(&parse_install(&args)?)?;
    check_library(&inputs.library)?;
    // A shared library is not executable in a Debian package (dh_fixperms),
    // and is stripped of what it does not export (dh_strip).
    let lib = root
        .join(libdir.strip_prefix("/").unwrap_or(&libdir))
        .join(LIBRARY_FILE);
    output(
        Command::new("strip")
            .args(["--remove-section=.comment", "--remove-section=.note"])
            .arg("--strip-unneeded")
            .arg(&lib),
    )?;
    fs::set_permissions(&lib, fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("{}: {e}", lib.display()))?;

    // Stripped as dh_strip strips (a no-op on the deb profile's build).
    output(
        Command::new("strip")
            .args(["--remove-section=.comment", "--remove-section=.note"])
            .arg(root.join("usr/bin/kmod")),
    )?;

    // Where Debian's kmod has them (see the module comment).
    let usr = root.join("usr");
    for (from, to) in [("bin", "bin"), ("sbin", "sbin")] {
        let from = usr.join(from);
        fs::create_dir_all(root.join(to)).map_err(|e| format!("creating {to}: {e}"))?;
        let entries =
            fs::read_dir(&from).map_err(|e| format!("reading {}: {e}", from.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            fs::rename(entry.path(), root.join(to).join(&name))
                .map_err(|e| format!("moving {}: {e}", entry.path().display()))?;
        }
        fs::remove_dir(&from).map_err(|e| format!("removing {}: {e}", from.display()))?;
    }

    let man8 = usr.join("share/man/man8");
    for entry in fs::read_dir(&man8)
        .map_err(|e| format!("reading man8: {e}"))?
        .flatten()
    {
        gzip_in_place(&entry.path())?;
    }

    for dir in ["etc/modprobe.d", "etc/depmod.d", "lib/modprobe.d"] {
        fs::create_dir_all(root.join(dir)).map_err(|e| format!("creating {dir}: {e}"))?;
    }
    write_file(
        &root.join("lib/modprobe.d/aliases.conf"),
        MODPROBE_DEFAULTS.as_bytes(),
        0o644,
    )?;
    write_file(&root.join("etc/init.d/kmod"), INIT_SCRIPT.as_bytes(), 0o755)?;
    write_file(
        &root.join("usr/share/initramfs-tools/hooks/kmod"),
        INITRAMFS_HOOK.as_bytes(),
        0o755,
    )?;
    let doc = usr.join("share/doc").join(PACKAGE);
    write_file(&doc.join("copyright"), COPYRIGHT.as_bytes(), 0o644)
}

/// The library programs will load as `libkmod.so.2`.
fn check_library(lib: &Path) -> Result<(), String> {
    let (_, soname) = needed_and_soname(lib)?;
    if soname.as_deref() != Some("libkmod.so.2") {
        return Err(format!(
            "{} has SONAME {soname:?}, not libkmod.so.2",
            lib.display()
        ));
    }
    Ok(())
}

/// Debian compresses man pages with `gzip -9n` (no name, no time stamp).
fn gzip_in_place(path: &Path) -> Result<(), String> {
    let bytes = fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)
        .map_err(|e| format!("compressing {}: {e}", path.display()))?;
    let data = gz
        .finish()
        .map_err(|e| format!("compressing {}: {e}", path.display()))?;
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    write_file(Path::new(&name), &data, 0o644)?;
    fs::remove_file(path).map_err(|e| format!("removing {}: {e}", path.display()))
}

/// The libraries the tools and libkmod.so.2 open at run time.
const DLOPENED: &str = "liblzma5 (>= 5.2), libzstd1 (>= 1.4.0), zlib1g (>= 1:1.1.4)";

/// The package's dependencies on shared libraries, as dpkg-shlibdeps
/// computes them from the symbols our binaries use.
fn shlib_depends(stage: &Path, root: &Path) -> Result<String, String> {
    let control = "Source: modutils\n\nPackage: modutils\nArchitecture: any\n";
    write_file(&stage.join("debian/control"), control.as_bytes(), 0o644)?;
    let mut cmd = Command::new("dpkg-shlibdeps");
    cmd.current_dir(stage).arg("-O").arg(root.join("bin/kmod"));
    for path in files(root)? {
        if path.file_name().is_some_and(|n| n == LIBRARY_FILE) {
            cmd.arg(&path);
        }
    }
    let out = output(&mut cmd).map_err(|e| format!("{e} (apt-get install dpkg-dev)"))?;
    out.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(String::from)
        .ok_or(format!("dpkg-shlibdeps printed no dependencies: {out}"))
}

/// Every regular file and link under `dir` except the control area.
fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).map_err(|e| format!("reading {}: {e}", d.display()))? {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", d.display()))?
                .path();
            let meta =
                fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.is_dir() {
                if path.file_name().is_some_and(|n| n != "DEBIAN") {
                    todo.push(path);
                }
            } else {
                all.push(path);
            }
        }
    }
    all.sort();
    Ok(all)
}

/// dpkg's measure: each file's size in KiB rounded up, one per other entry.
fn installed_size(root: &Path) -> Result<u64, String> {
    let mut kib = 0;
    for path in files(root)? {
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        kib += if meta.is_file() {
            meta.size().div_ceil(1024)
        } else {
            1
        };
    }
    Ok(kib)
}

fn write_md5sums(root: &Path) -> Result<(), String> {
    let mut cmd = Command::new("md5sum");
    cmd.current_dir(root);
    for path in files(root)? {
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            cmd.arg(path.strip_prefix(root).unwrap_or(&path));
        }
    }
    let sums = output(&mut cmd)?;
    write_file(&root.join("DEBIAN/md5sums"), sums.as_bytes(), 0o644)
}
