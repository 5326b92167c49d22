//! Whether this process may load and remove modules at all, and the
//! sentences that explain the kernel's refusals.

use crate::Root;

/// What the tools say, after kmod's own error line, when the running
/// kernel has no module support at all.
pub const NO_MODULE_SUPPORT: &str =
    "the running kernel has no module support (it was built without CONFIG_MODULES)";

/// Whether this process may load and remove modules, as far as can be told
/// without trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Nothing known stands in the way; the kernel may still refuse.
    Allowed,
    /// The process lacks `CAP_SYS_MODULE` (not root).
    NotPrivileged,
    /// `/proc/sys/kernel/modules_disabled` is 1: nobody may, until reboot.
    Disabled,
}

const CAP_SYS_MODULE: u32 = 16;

/// Reads `modules_disabled` under `root` and this process's effective
/// capabilities (the real `/proc/self/status`, else the effective uid).
pub fn permission(root: &Root) -> Permission {
    if crate::procfs::modules_disabled(root) {
        return Permission::Disabled;
    }
    let cap_eff = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        });
    let allowed = match cap_eff {
        Some(caps) => caps & (1 << CAP_SYS_MODULE) != 0,
        None => nix::unistd::geteuid().is_root(),
    };
    if allowed {
        Permission::Allowed
    } else {
        Permission::NotPrivileged
    }
}

/// The sentence that explains an `EPERM` from the kernel, for `action`
/// ("load" or "remove").
pub fn permission_sentence(permission: Permission, action: &str) -> Option<String> {
    match permission {
        Permission::Allowed => None,
        Permission::NotPrivileged => Some(format!(
            "only root (a process with CAP_SYS_MODULE) may {action} kernel modules"
        )),
        Permission::Disabled => Some(format!(
            "the kernel refuses to {action} modules until the next boot (/proc/sys/kernel/modules_disabled is 1)"
        )),
    }
}
