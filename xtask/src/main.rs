//! Project tasks, run as `cargo xtask <task>` (alias in .cargo/config.toml).
//!
//! `cargo xtask install [--prefix DIR] [--destdir DIR] [--no-build]`
//! installs modutils the way Debian installs kmod: the multicall binary
//! `PREFIX/bin/kmod`, `PREFIX/bin/lsmod` and `PREFIX/sbin/{depmod,insmod,
//! lsmod,modinfo,modprobe,rmmod}` as links to it, man pages in
//! `PREFIX/share/man/man8`, and bash, zsh and fish completions. Man pages
//! and completions are generated from the tools' own option tables (the
//! ones that parse the command line and print `--help`). With them, the
//! library: `LIBDIR/libkmod.so.2` (kmod's C interface, see docs/libkmod.md)
//! with its development link, `PREFIX/include/libkmod.h` and
//! `LIBDIR/pkgconfig/libkmod.pc`. See docs/install.md for the layout.
//!
//! `cargo xtask deb` builds the Debian package that replaces kmod and
//! libkmod2 (deb.rs, docs/debian.md).

mod commands;
mod complete;
mod deb;
mod man;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The tools installed as links to `kmod` in `bin`, besides every tool of
/// kmod's table in `sbin` (Debian's layout: lsmod is in both directories).
const BIN_LINKS: [&str; 1] = ["lsmod"];

struct Install {
    prefix: PathBuf,
    destdir: Option<PathBuf>,
    build: bool,
    /// `--binary`: this kmod instead of target/release/kmod.
    binary: Option<PathBuf>,
    /// `--library`: this libkmod.so instead of target/release/libkmod.so.
    library: Option<PathBuf>,
    /// `--libdir`; default PREFIX/lib/<multiarch> where the system has
    /// such a directory, else PREFIX/lib.
    libdir: Option<PathBuf>,
}

/// The library's file name: kmod 34's, so that the installed names are
/// the ones kmod's package has (the SONAME link and the development link
/// point to it).
const LIBRARY_FILE: &str = "libkmod.so.2.5.1";
/// The kmod release whose library interface this is (for pkg-config).
const LIBRARY_VERSION: &str = "34.2";

const USAGE: &str = "\
usage: cargo xtask install [--prefix DIR] [--libdir DIR] [--destdir DIR] [--no-build]

  --prefix DIR    installation prefix (default /usr/local; distributions: /usr)
  --libdir DIR    where libkmod.so.2 goes (default PREFIX/lib/<multiarch>
                  where the system has one, e.g. lib/x86_64-linux-gnu)
  --destdir DIR   stage the files under DIR (for packaging; links and paths
                  written into completions still name PREFIX)
  --no-build      install target/release/kmod and libkmod.so as they are
  --binary FILE   install FILE as kmod (implies --no-build)
  --library FILE  install FILE as libkmod.so.2 (implies --no-build)

PREFIX and DESTDIR may also come from the environment, as with make.
";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("install") => match parse_install(&args[1..]).and_then(|i| install(&i)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask install: {e}");
                ExitCode::FAILURE
            }
        },
        Some("deb") => match deb::run(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask deb: {e}");
                ExitCode::FAILURE
            }
        },
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}\n{}", deb::USAGE);
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{USAGE}\n{}", deb::USAGE);
            ExitCode::FAILURE
        }
    }
}

fn parse_install(args: &[OsString]) -> Result<Install, String> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let mut inst = Install {
        prefix: env("PREFIX").map_or_else(|| PathBuf::from("/usr/local"), PathBuf::from),
        destdir: env("DESTDIR").map(PathBuf::from),
        build: true,
        binary: None,
        library: None,
        libdir: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(PathBuf::from(v))),
            None => (a.to_string(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().map(PathBuf::from))
                .ok_or(format!("{name} needs a value"))
        };
        match name.as_str() {
            "--prefix" => inst.prefix = value()?,
            "--destdir" => inst.destdir = Some(value()?),
            "--no-build" => inst.build = false,
            "--binary" => {
                inst.binary = Some(value()?);
                inst.build = false;
            }
            "--library" => {
                inst.library = Some(value()?);
                inst.build = false;
            }
            "--libdir" => inst.libdir = Some(value()?),
            _ => return Err(format!("unknown argument '{a}'\n{USAGE}")),
        }
    }
    for dir in [Some(&inst.prefix), inst.libdir.as_ref()]
        .into_iter()
        .flatten()
    {
        if !dir.is_absolute() {
            return Err(format!("{} must be an absolute path", dir.display()));
        }
    }
    Ok(inst)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

impl Install {
    /// Where a file of the installed system goes now (under DESTDIR).
    fn staged(&self, installed: &Path) -> PathBuf {
        match &self.destdir {
            Some(d) => {
                let rel = installed.strip_prefix("/").unwrap_or(installed);
                d.join(rel)
            }
            None => installed.to_path_buf(),
        }
    }

    fn dir(&self, sub: &str) -> PathBuf {
        self.prefix.join(sub)
    }

    fn libdir(&self) -> PathBuf {
        self.libdir
            .clone()
            .unwrap_or_else(|| self.dir("lib").join(multiarch().unwrap_or_default()))
    }
}

/// The distribution's multiarch name (`x86_64-linux-gnu`), if this system
/// keeps libraries in such directories.
fn multiarch() -> Option<String> {
    let out = Command::new("cc").arg("-print-multiarch").output().ok()?;
    let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let used = !name.is_empty()
        && out.status.success()
        && (Path::new("/usr/lib").join(&name).is_dir() || Path::new("/lib").join(&name).is_dir());
    used.then_some(name)
}

fn install(inst: &Install) -> Result<(), String> {
    let ws = workspace();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| ws.join("target"), PathBuf::from);
    let binary = inst
        .binary
        .clone()
        .unwrap_or_else(|| target.join("release/kmod"));
    let library = inst
        .library
        .clone()
        .unwrap_or_else(|| target.join("release/libkmod.so"));
    if inst.build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&ws)
            .args(["build", "--release", "--locked"])
            .args(["-p", "modutils", "--bin", "kmod"])
            .args(["-p", "modutils-libkmod"])
            .status()
            .map_err(|e| format!("running cargo: {e}"))?;
        if !status.success() {
            return Err("cargo build failed".into());
        }
    }
    if !binary.is_file() {
        return Err(format!("{} is missing (build it first)", binary.display()));
    }

    let bin = inst.dir("bin");
    let sbin = inst.dir("sbin");
    let kmod = bin.join("kmod");
    copy_file(&binary, &inst.staged(&kmod), 0o755)?;
    let sbin_links: Vec<&str> = modutils::kmod::TOOLS.iter().map(|t| t.name).collect();
    for (dir, names) in [(&bin, &BIN_LINKS[..]), (&sbin, &sbin_links[..])] {
        for name in names {
            let link = dir.join(name);
            symlink(&relative(dir, &kmod), &inst.staged(&link))?;
        }
    }

    let man8 = inst.dir("share/man/man8");
    for cmd in commands::commands() {
        let (name, page) = man::page(cmd)?;
        write_file(&inst.staged(&man8.join(format!("{name}.8"))), &page, 0o644)?;
    }

    let bash = inst.dir("share/bash-completion/completions");
    let zsh = inst.dir("share/zsh/vendor-completions");
    let fish = inst.dir("share/fish/vendor_completions.d");
    for cmd in commands::commands() {
        let name = cmd.get_name().to_string();
        let scripts = complete::scripts(cmd, &kmod);
        write_file(&inst.staged(&bash.join(&name)), &scripts.bash, 0o644)?;
        write_file(
            &inst.staged(&zsh.join(format!("_{name}"))),
            &scripts.zsh,
            0o644,
        )?;
        let fish_file = fish.join(format!("{name}.fish"));
        write_file(&inst.staged(&fish_file), &scripts.fish, 0o644)?;
    }

    // Without --library, a --no-build install of a tree where only the
    // tools were built leaves the library out rather than failing.
    if library.is_file() {
        install_library(inst, &library, &ws)?;
    } else if inst.library.is_some() {
        return Err(format!("{} is missing", library.display()));
    } else {
        eprintln!(
            "xtask install: {} not built: library not installed",
            library.display()
        );
    }

    let shown = inst.staged(&inst.prefix);
    println!(
        "installed kmod, its links, man pages and completions under {}",
        shown.display()
    );
    Ok(())
}

/// libkmod.so.2 as a distribution installs it: the file, its SONAME link
/// (what programs load), the development link (what `-lkmod` finds), the
/// header and the pkg-config file.
fn install_library(inst: &Install, library: &Path, ws: &Path) -> Result<(), String> {
    let libdir = inst.libdir();
    copy_file(library, &inst.staged(&libdir.join(LIBRARY_FILE)), 0o755)?;
    symlink(
        Path::new(LIBRARY_FILE),
        &inst.staged(&libdir.join("libkmod.so.2")),
    )?;
    symlink(
        Path::new("libkmod.so.2"),
        &inst.staged(&libdir.join("libkmod.so")),
    )?;
    let crate_dir = ws.join("crates/libkmod");
    let include = inst.dir("include");
    copy_file(
        &crate_dir.join("include/libkmod.h"),
        &inst.staged(&include.join("libkmod.h")),
        0o644,
    )?;
    let template = fs::read_to_string(crate_dir.join("libkmod.pc.in"))
        .map_err(|e| format!("reading libkmod.pc.in: {e}"))?;
    let pc = template
        .replace("@prefix@", &inst.prefix.to_string_lossy())
        .replace("@libdir@", &libdir.to_string_lossy())
        .replace("@includedir@", &include.to_string_lossy())
        .replace("@version@", LIBRARY_VERSION);
    write_file(
        &inst.staged(&libdir.join("pkgconfig/libkmod.pc")),
        pc.as_bytes(),
        0o644,
    )?;
    println!(
        "installed libkmod.so.2 in {}",
        inst.staged(&libdir).display()
    );
    Ok(())
}

/// `to` as seen from directory `from` (both absolute, as the installed
/// system sees them), so that links work under DESTDIR too.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to_c: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    let mut p = PathBuf::new();
    for _ in common..from.len() {
        p.push("..");
    }
    for c in &to_c[common..] {
        p.push(c);
    }
    p
}

fn mkparent(path: &Path) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so that a running binary
/// or a reader never sees a half-written file.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    mkparent(path)?;
    let tmp = path.with_extension("xtask-tmp");
    let err = |e: io::Error| format!("writing {}: {e}", path.display());
    fs::write(&tmp, bytes).map_err(err)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

fn copy_file(from: &Path, to: &Path, mode: u32) -> Result<(), String> {
    let bytes = fs::read(from).map_err(|e| format!("reading {}: {e}", from.display()))?;
    write_file(to, &bytes, mode)
}

fn symlink(target: &Path, link: &Path) -> Result<(), String> {
    mkparent(link)?;
    match fs::remove_file(link) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("replacing {}: {e}", link.display())),
    }
    std::os::unix::fs::symlink(target, link).map_err(|e| format!("linking {}: {e}", link.display()))
}

#[cfg(test)]
mod tests {
    use super::relative;
    use std::path::Path;

    #[test]
    fn links_are_relative() {
        assert_eq!(
            relative(Path::new("/usr/sbin"), Path::new("/usr/bin/kmod")),
            Path::new("../bin/kmod")
        );
        assert_eq!(
            relative(Path::new("/usr/bin"), Path::new("/usr/bin/kmod")),
            Path::new("kmod")
        );
    }
}
