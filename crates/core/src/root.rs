//! The one place where absolute system paths become paths on the host.
//!
//! Every file the tools read or write (`/proc/modules`, `/sys/module/…`,
//! `/lib/modules/<ver>`, `/etc/modprobe.d`, …) is named by its path on the
//! target system and resolved through a [`Root`]. By default the root is `/`;
//! `MODUTILS_SYSROOT=DIR` moves it, which is how hermetic tests fake a system
//! and how image builders work on a target tree. Paths shown to the user stay
//! target paths, as they would be inside a chroot.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Environment variable that relocates every absolute path the tools touch.
pub const SYSROOT_ENV: &str = "MODUTILS_SYSROOT";

/// Where modules live, relative to the root (kmod's MODULE_DIRECTORY).
pub const MODULE_DIRECTORY: &str = "/lib/modules";

/// The module directory of kernel `release` under `base`, as a target
/// path: `BASE/lib/modules/RELEASE`. The base is spelled as given (an
/// empty one is the root; one ending in `/` gives `//`, as in kmod).
pub fn module_dir(base: impl AsRef<OsStr>, release: impl AsRef<OsStr>) -> PathBuf {
    let mut dir = OsString::from(base.as_ref());
    dir.push(MODULE_DIRECTORY);
    dir.push("/");
    dir.push(release.as_ref());
    PathBuf::from(dir)
}

/// Where the target system's paths lie on the host: `/` itself or a relocated directory
/// (`MODUTILS_SYSROOT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// `None` means the real `/`: paths are used unchanged.
    prefix: Option<PathBuf>,
}

impl Default for Root {
    fn default() -> Self {
        Root::system()
    }
}

impl Root {
    /// The host's own root.
    pub fn system() -> Root {
        Root { prefix: None }
    }

    /// A root at `dir`. An empty path, and any path that is the host's own
    /// `/` under another name (`/..`, `//`, a symlink to `/`, a bind mount
    /// of it), mean the host's root: [`Root::prefix`] is then `None`, so
    /// nothing meant only for a relocated root (the fake kernel) can ever
    /// act on the real system.
    pub fn at(dir: impl Into<PathBuf>) -> Root {
        let dir: PathBuf = dir.into();
        if dir.as_os_str().is_empty() || is_host_root(&dir) {
            Root::system()
        } else {
            Root { prefix: Some(dir) }
        }
    }

    /// The root named by `MODUTILS_SYSROOT`, or `/`.
    pub fn from_env() -> Root {
        match std::env::var_os(SYSROOT_ENV) {
            Some(dir) => Root::at(dir),
            None => Root::system(),
        }
    }

    /// The prefix directory, if the root is not the host's `/`.
    pub fn prefix(&self) -> Option<&Path> {
        self.prefix.as_deref()
    }

    /// Host path for a target path. Relative paths are left alone: they name
    /// files the user gave on the command line, relative to the working directory.
    pub fn host(&self, target: impl AsRef<Path>) -> PathBuf {
        let target = target.as_ref();
        match &self.prefix {
            Some(prefix) if target.is_absolute() => {
                let mut joined = OsString::from(prefix.as_os_str());
                joined.push(target.as_os_str());
                PathBuf::from(joined)
            }
            _ => target.to_path_buf(),
        }
    }

    /// [`Root::host`] for a target path held as bytes, as depmod keeps its
    /// paths.
    pub(crate) fn host_bytes(&self, target: &[u8]) -> PathBuf {
        self.host(Path::new(std::ffi::OsStr::from_bytes(target)))
    }

    /// The target path of a file the user named on the command line. An
    /// absolute path is one already. A relative path is relative to the
    /// working directory and is made absolute as kmod does (the directory,
    /// `/`, the path as given). The working directory is a host directory:
    /// under a relocated root, inside it, the result is the path the file
    /// has on the target system (as if the tool ran chrooted there), which
    /// [`Root::host`] maps back; outside it, the file has no target path
    /// and the relative path is kept, which `host` leaves alone.
    pub fn target_path(&self, path: &Path) -> std::io::Result<PathBuf> {
        if path.is_absolute() {
            return Ok(path.to_path_buf());
        }
        let cwd = std::env::current_dir()?;
        let dir = match &self.prefix {
            None => cwd,
            Some(prefix) => {
                // The working directory has no symlinks; the prefix may.
                let prefix = prefix.canonicalize().unwrap_or_else(|_| prefix.clone());
                match cwd.strip_prefix(&prefix) {
                    Ok(inside) => Path::new("/").join(inside),
                    Err(_) => return Ok(path.to_path_buf()),
                }
            }
        };
        let mut joined = dir.into_os_string();
        if joined.as_bytes() != b"/" {
            joined.push("/");
        }
        joined.push(path);
        Ok(PathBuf::from(joined))
    }

    /// The module directory the tools use by default: `BASE/lib/modules/RELEASE`
    /// with the base given (`-b`/`-d`, else none) and the release given
    /// (`-k`/`-S`, else the running kernel's, [`Root::kernel_release`]).
    pub fn module_dir(&self, base: Option<&OsStr>, release: Option<&OsStr>) -> PathBuf {
        let base = base.unwrap_or_default();
        match release {
            Some(release) => module_dir(base, release),
            None => module_dir(base, self.kernel_release()),
        }
    }

    /// The kernel release: `/proc/sys/kernel/osrelease` under a relocated root
    /// (so a fake system can name its kernel), else `uname -r`.
    pub fn kernel_release(&self) -> String {
        if self.prefix.is_some() {
            if let Ok(s) = std::fs::read_to_string(self.host("/proc/sys/kernel/osrelease")) {
                return s.trim_end().to_string();
            }
        }
        nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Whether `dir` is the directory `/` is: the same canonical path, or the
/// same device and inode (which a bind mount of `/` also has).
fn is_host_root(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if dir.canonicalize().is_ok_and(|c| c == Path::new("/")) {
        return true;
    }
    match (std::fs::metadata(dir), std::fs::metadata("/")) {
        (Ok(d), Ok(r)) => (d.dev(), d.ino()) == (r.dev(), r.ino()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_root_leaves_paths_alone() {
        assert_eq!(
            Root::system().host("/proc/modules"),
            Path::new("/proc/modules")
        );
        assert_eq!(
            Root::at("/").host("/proc/modules"),
            Path::new("/proc/modules")
        );
    }

    #[test]
    fn other_names_of_the_host_root_are_the_host_root() {
        let t = tempfile::tempdir().unwrap();
        let link = t.path().join("to-root");
        std::os::unix::fs::symlink("/", &link).unwrap();
        for dir in [Path::new("/.."), Path::new("//"), Path::new("/./"), &link] {
            assert_eq!(Root::at(dir).prefix(), None, "{}", dir.display());
        }
        // A real directory, and one that does not exist (yet), stay roots.
        assert_eq!(Root::at(t.path()).prefix(), Some(t.path()));
        let missing = t.path().join("missing");
        assert_eq!(Root::at(&missing).prefix(), Some(missing.as_path()));
    }

    #[test]
    fn relative_paths_become_target_paths() {
        let cwd = std::env::current_dir().unwrap();
        let rel = Path::new("./m.ko");
        assert_eq!(
            Root::system().target_path(rel).unwrap(),
            Path::new(&format!("{}/./m.ko", cwd.display()))
        );
        assert_eq!(
            Root::system().target_path(Path::new("/a.ko")).unwrap(),
            Path::new("/a.ko")
        );
        // The working directory inside the root (the root given with a
        // trailing slash and as a relative path too), then outside it.
        let parent = cwd.parent().unwrap();
        for prefix in [parent.to_path_buf(), parent.join(""), PathBuf::from("..")] {
            let name = cwd.file_name().unwrap().to_string_lossy();
            assert_eq!(
                Root::at(&prefix).target_path(rel).unwrap(),
                Path::new(&format!("/{name}/./m.ko")),
                "{}",
                prefix.display()
            );
        }
        assert_eq!(
            Root::at(&cwd).target_path(rel).unwrap(),
            Path::new("/./m.ko")
        );
        let t = tempfile::tempdir().unwrap();
        assert_eq!(Root::at(t.path()).target_path(rel).unwrap(), rel);
        assert_eq!(
            Root::at(t.path()).target_path(Path::new("/a.ko")).unwrap(),
            Path::new("/a.ko")
        );
    }

    #[test]
    fn module_dirs_are_spelled_as_given() {
        let r = Root::at("/tmp/fake");
        assert_eq!(module_dir("", "6.1"), Path::new("/lib/modules/6.1"));
        assert_eq!(module_dir("/b/", "6.1"), Path::new("/b//lib/modules/6.1"));
        let (base, release) = (OsStr::new("b"), OsStr::new("x"));
        assert_eq!(
            r.module_dir(Some(base), Some(release)),
            Path::new("b/lib/modules/x")
        );
        assert_eq!(
            r.module_dir(None, Some(release)),
            Path::new("/lib/modules/x")
        );
    }

    #[test]
    fn relocated_root_prefixes_absolute_paths_only() {
        let r = Root::at("/tmp/fake");
        assert_eq!(r.host("/proc/modules"), Path::new("/tmp/fake/proc/modules"));
        assert_eq!(r.host("mod.ko"), Path::new("mod.ko"));
    }
}
