//! A fake system root under a temporary directory, used as a `Root`
//! (`MODUTILS_SYSROOT`): `/proc`, `/sys/module` and `/lib/modules` as the
//! kernel and depmod would leave them. (Not the core's fake kernel,
//! `modutils_core::probe::FakeSystem`, which loads into such a root.)

use std::path::{Path, PathBuf};

pub struct FakeRoot {
    pub dir: tempfile::TempDir,
    pub release: String,
}

impl Default for FakeRoot {
    fn default() -> FakeRoot {
        FakeRoot::new()
    }
}

impl FakeRoot {
    /// A system with `/proc` mounted (version, osrelease, an empty
    /// `/proc/modules`) and an empty `/sys/module`.
    pub fn new() -> FakeRoot {
        let s = FakeRoot {
            dir: tempfile::tempdir().unwrap(),
            release: "6.1.0-test".to_string(),
        };
        s.write("/proc/version", "Linux version 6.1.0-test\n");
        s.write("/proc/sys/kernel/osrelease", "6.1.0-test\n");
        s.write("/proc/sys/kernel/modules_disabled", "0\n");
        s.write("/proc/modules", "");
        s.mkdir("/sys/module");
        s.mkdir(&format!("/lib/modules/{}", s.release));
        s
    }

    /// A system whose kernel was built without module support.
    pub fn without_modules() -> FakeRoot {
        let s = FakeRoot::new();
        std::fs::remove_file(s.path("/proc/modules")).unwrap();
        s
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, target: &str) -> PathBuf {
        self.dir.path().join(target.trim_start_matches('/'))
    }

    pub fn write(&self, target: &str, content: impl AsRef<[u8]>) {
        let p = self.path(target);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn mkdir(&self, target: &str) {
        std::fs::create_dir_all(self.path(target)).unwrap();
    }

    pub fn moddir(&self) -> String {
        format!("/lib/modules/{}", self.release)
    }

    /// A loaded module as the kernel shows it in `/sys/module/<name>`
    /// (holders in the order given; the real order is the kernel's).
    pub fn sys_module(&self, name: &str, coresize: u64, refcnt: i64, holders: &[&str]) {
        let dir = format!("/sys/module/{name}");
        self.write(&format!("{dir}/initstate"), "live\n");
        self.write(&format!("{dir}/coresize"), format!("{coresize}\n"));
        self.write(&format!("{dir}/refcnt"), format!("{refcnt}\n"));
        self.mkdir(&format!("{dir}/holders"));
        for h in holders {
            self.mkdir(&format!("{dir}/holders/{h}"));
        }
    }
}
