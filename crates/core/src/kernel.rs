//! The kernel's module system calls, used the way kmod 34 uses them.
//!
//! * [`insert_module`]: `finit_module` on the file itself when it is
//!   uncompressed or compressed the way the kernel can undo
//!   (`MODULE_INIT_COMPRESSED_FILE`); only when that answers `ENOSYS` (no
//!   such call, or a compression the kernel lacks) the image is read and
//!   decompressed here and handed to `init_module`. `--force` becomes
//!   `MODULE_INIT_IGNORE_*` flags for `finit_module`, or, for
//!   `init_module`, `__versions` and the vermagic stripped from a private
//!   copy of the image.
//! * [`remove_module`]: `delete_module`, never waiting (`O_NONBLOCK`),
//!   forced with `O_TRUNC`.
//! * [`KernelLog`]: the kernel's own log lines (`/dev/kmsg`) written while
//!   a call ran, to show the user why the kernel refused.
//! * [`join_params`]: module parameters from the command line, joined the
//!   way kmod's tools join them.

use std::borrow::Cow;
use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::kmod::{DeleteModuleFlags, ModuleInitFlags};

use crate::module_file::{self, Compression, ModuleFile};
use crate::Root;

/// `finit_module` flag: the file is compressed and the kernel should undo
/// it (Linux 6.4+, `CONFIG_MODULE_DECOMPRESS`). nix lacks the constant.
pub const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// Where the kernel log is read from.
pub const DEV_KMSG: &str = "/dev/kmsg";

/// What the tools say, after kmod's own error line, when the running
/// kernel has no module support at all.
pub const NO_MODULE_SUPPORT: &str =
    "the running kernel has no module support (it was built without CONFIG_MODULES)";

/// Whether this process may load and remove modules, as far as can be told
/// without trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
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

/// Which of the kernel's checks `--force` disables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Force {
    /// Symbol version CRCs (`__versions`).
    pub modversion: bool,
    /// The `vermagic` string.
    pub vermagic: bool,
}

impl Force {
    /// Both checks off, as `insmod -f` and `modprobe -f` ask.
    pub const ALL: Force = Force {
        modversion: true,
        vermagic: true,
    };

    pub fn any(self) -> bool {
        self.modversion || self.vermagic
    }

    fn init_flags(self) -> ModuleInitFlags {
        let mut flags = ModuleInitFlags::empty();
        if self.modversion {
            flags |= ModuleInitFlags::MODULE_INIT_IGNORE_MODVERSIONS;
        }
        if self.vermagic {
            flags |= ModuleInitFlags::MODULE_INIT_IGNORE_VERMAGIC;
        }
        flags
    }
}

/// How a module reached the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscall {
    /// `finit_module` on the file; `compressed` when the kernel was asked
    /// to decompress it.
    FinitModule { compressed: Option<Compression> },
    /// `init_module` with the image read (and decompressed) here.
    InitModule {
        /// How the file was stored.
        compression: Compression,
        /// `--force` cleared `SHF_ALLOC` of `__versions` in our copy.
        stripped_modversions: bool,
        /// `--force` blanked the `vermagic=` record in our copy.
        stripped_vermagic: bool,
    },
}

impl Syscall {
    /// A short description for verbose output.
    pub fn describe(&self) -> String {
        match self {
            Syscall::FinitModule { compressed: None } => "finit_module".into(),
            Syscall::FinitModule {
                compressed: Some(c),
            } => {
                format!("finit_module, the kernel decompressing {c}")
            }
            Syscall::InitModule {
                compression: Compression::None,
                ..
            } => "init_module".into(),
            Syscall::InitModule { compression, .. } => {
                format!("init_module after {compression} decompression in userspace")
            }
        }
    }
}

/// Why a module could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// The module file could not be opened, read or decompressed here.
    #[error(transparent)]
    File(#[from] module_file::Error),
    /// The kernel refused: the errno of the system call.
    #[error("{} refused: {}", syscall.describe(), errno.desc())]
    Kernel { errno: Errno, syscall: Syscall },
}

impl InsertError {
    /// The errno kmod reports for this failure.
    pub fn errno(&self) -> i32 {
        match self {
            InsertError::File(e) => e.errno(),
            InsertError::Kernel { errno, .. } => *errno as i32,
        }
    }

    /// The kernel answered (as opposed to a failure before the call).
    pub fn from_kernel(&self) -> bool {
        matches!(self, InsertError::Kernel { .. })
    }
}

fn io_error(path: &Path, source: io::Error) -> module_file::Error {
    module_file::Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Inserts the module at `path` (a host path) with the parameter string
/// `params`.
///
/// `kernel_compression` is what `/sys/module/compression` names (see
/// [`crate::sysfs::kernel_compression`]). `image`, when the caller has
/// already opened the same file (e.g. for a symbol check), saves reading
/// and decompressing it a second time on the `init_module` path.
pub fn insert_module(
    path: &Path,
    params: &CStr,
    force: Force,
    kernel_compression: Option<Compression>,
    image: Option<&ModuleFile>,
) -> Result<Syscall, InsertError> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    let mut head = [0u8; 6];
    let n = read_head(&file, &mut head).map_err(|e| io_error(path, e))?;
    if n < head.len() {
        return Err(module_file::Error::TooShort {
            path: path.to_path_buf(),
        }
        .into());
    }
    let compression = Compression::detect(&head);
    if compression == Compression::None || Some(compression) == kernel_compression {
        let compressed = (compression != Compression::None).then_some(compression);
        let mut flags = force.init_flags();
        if compressed.is_some() {
            flags |= ModuleInitFlags::from_bits_retain(MODULE_INIT_COMPRESSED_FILE);
        }
        let syscall = Syscall::FinitModule { compressed };
        match nix::kmod::finit_module(&file, params, flags) {
            Ok(()) => return Ok(syscall),
            Err(Errno::ENOSYS) => {}
            Err(errno) => return Err(InsertError::Kernel { errno, syscall }),
        }
    }
    init_module_fallback(path, file, params, force, compression, image)
}

fn read_head(file: &File, head: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < head.len() {
        match file.read_at(&mut head[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn init_module_fallback(
    path: &Path,
    mut file: File,
    params: &CStr,
    force: Force,
    compression: Compression,
    image: Option<&ModuleFile>,
) -> Result<Syscall, InsertError> {
    let bytes: Cow<'_, [u8]> = match image {
        Some(m) if m.compression() == compression => Cow::Borrowed(m.bytes()),
        _ => {
            let mut raw = Vec::new();
            file.read_to_end(&mut raw).map_err(|e| io_error(path, e))?;
            match compression {
                Compression::None => Cow::Owned(raw),
                c => Cow::Owned(module_file::decompress(path, c, &raw)?),
            }
        }
    };
    let mut syscall = Syscall::InitModule {
        compression,
        stripped_modversions: false,
        stripped_vermagic: false,
    };
    let bytes = if force.any() {
        let mut copy = bytes.into_owned();
        let (versions, vermagic) = strip_for_force(&mut copy, force);
        if let Syscall::InitModule {
            stripped_modversions,
            stripped_vermagic,
            ..
        } = &mut syscall
        {
            *stripped_modversions = versions;
            *stripped_vermagic = vermagic;
        }
        Cow::Owned(copy)
    } else {
        bytes
    };
    nix::kmod::init_module(&bytes, params)
        .map_err(|errno| InsertError::Kernel { errno, syscall })?;
    Ok(syscall)
}

/// Disables the kernel's version checks in a module image, as `--force`
/// asks when the image goes through `init_module`: clears `SHF_ALLOC` of
/// `__versions` (the kernel then sees no CRCs) and blanks the
/// `vermagic=…` record of `.modinfo`. Returns what was changed; an image
/// without the section or record (or one that does not parse) is left
/// alone, and the kernel decides.
pub fn strip_for_force(image: &mut [u8], force: Force) -> (bool, bool) {
    let Ok(elf) = crate::elf::Elf::parse(image) else {
        return (false, false);
    };
    let alloc_byte = if force.modversion {
        elf.versions_alloc_flag_byte()
    } else {
        None
    };
    let vermagic = if force.vermagic {
        elf.vermagic_range()
    } else {
        None
    };
    let mut stripped = (false, false);
    if let Some(at) = alloc_byte.filter(|&at| at < image.len()) {
        image[at] &= !(object::elf::SHF_ALLOC.0 as u8);
        stripped.0 = true;
    }
    if let Some(range) = vermagic.filter(|r| r.end <= image.len()) {
        image[range].fill(0);
        stripped.1 = true;
    }
    stripped
}

/// Removes module `name` from the kernel. Never waits for its users to go
/// (`O_NONBLOCK`: a module in use gives `EWOULDBLOCK`); `force` adds
/// `O_TRUNC`, which kernels with `CONFIG_MODULE_FORCE_UNLOAD` honour.
pub fn remove_module(name: impl AsRef<[u8]>, force: bool) -> Result<(), Errno> {
    let name = CString::new(name.as_ref()).map_err(|_| Errno::EINVAL)?;
    let mut flags = DeleteModuleFlags::O_NONBLOCK;
    if force {
        flags |= DeleteModuleFlags::O_TRUNC;
    }
    nix::kmod::delete_module(&name, flags)
}

/// Joins module parameters given as separate arguments into the one
/// string the kernel takes, as kmod's tools do: each argument is preceded
/// by a space once the string is not empty (so empty arguments before the
/// first option vanish, later ones leave extra spaces), and
/// `key=value with spaces` is quoted as `key="value with spaces"` unless
/// the value already starts with a quote.
pub fn join_params(args: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.as_bytes();
        if !out.is_empty() {
            out.push(b' ');
        }
        match arg.iter().position(|&b| b == b'=') {
            Some(eq)
                if !matches!(arg.get(eq + 1), Some(b'"') | Some(b'\''))
                    && arg[eq + 1..].contains(&b' ') =>
            {
                out.extend_from_slice(&arg[..=eq]);
                out.push(b'"');
                out.extend_from_slice(&arg[eq + 1..]);
                out.push(b'"');
            }
            _ => out.extend_from_slice(arg),
        }
    }
    out
}

/// One record of the kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// syslog level, 0 (emergency) to 7 (debug).
    pub level: u8,
    /// syslog facility; 0 is the kernel itself.
    pub facility: u32,
    pub sequence: u64,
    /// Microseconds since boot.
    pub timestamp_us: u64,
    /// The message, with the kernel's `\xNN` escapes left as they are.
    pub message: String,
}

impl LogRecord {
    /// Parses one `/dev/kmsg` record: `prio,seq,usec,flags[,…];message`
    /// followed by optional ` KEY=value` continuation lines.
    pub fn parse(record: &str) -> Option<LogRecord> {
        let (header, rest) = record.split_once(';')?;
        let mut fields = header.split(',');
        let prio: u32 = fields.next()?.parse().ok()?;
        let sequence = fields.next()?.parse().ok()?;
        let timestamp_us = fields.next()?.parse().ok()?;
        let message = rest.split('\n').next().unwrap_or("").to_string();
        Some(LogRecord {
            level: (prio & 7) as u8,
            facility: prio >> 3,
            sequence,
            timestamp_us,
            message,
        })
    }

    /// The kernel noting that it is now tainted.
    pub fn is_taint_notice(&self) -> bool {
        self.message.ends_with("taints kernel.") || self.message.ends_with("tainting kernel")
    }

    /// The kernel's loader refusing an undefined symbol:
    /// `<module>: Unknown symbol <symbol> (err <n>)` gives the module and
    /// the symbol.
    pub fn unknown_symbol(&self) -> Option<(&str, &str)> {
        let (module, rest) = self.message.split_once(": Unknown symbol ")?;
        let (symbol, _) = rest.split_once(" (err ")?;
        Some((module, symbol))
    }

    /// Whether the record is about module `name`: the kernel's loader
    /// prefixes its messages with the module name (`mod_c: Unknown symbol
    /// …`); a few (`module mod_c: …`) name it later.
    pub fn mentions_module(&self, name: &str) -> bool {
        if name.is_empty() {
            return false;
        }
        let m = self.message.as_str();
        m.strip_prefix(name).is_some_and(|r| r.starts_with(':'))
            || m.match_indices(name).any(|(i, _)| {
                let before = m[..i].chars().next_back();
                let after = m[i + name.len()..].chars().next();
                let word = |c: Option<char>| {
                    c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'))
                };
                word(before) && word(after)
            })
    }
}

/// A reader positioned at the end of the kernel log: what it returns later
/// was logged after it was opened. Absence of `/dev/kmsg` (or no
/// permission to read it) is not an error: the reader then returns nothing.
#[derive(Debug)]
pub struct KernelLog {
    file: Option<File>,
}

impl KernelLog {
    /// Opens `/dev/kmsg` under `root` and skips everything logged so far.
    pub fn open(root: &Root) -> KernelLog {
        let path = root.host(DEV_KMSG);
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .ok()
            .and_then(|f| {
                use std::io::{Seek, SeekFrom};
                let mut f = f;
                f.seek(SeekFrom::End(0)).ok()?;
                Some(f)
            });
        KernelLog { file }
    }

    /// Whether the log could be opened.
    pub fn is_available(&self) -> bool {
        self.file.is_some()
    }

    /// The records logged since the last call (or since [`KernelLog::open`]).
    pub fn read_new(&mut self) -> Vec<LogRecord> {
        let Some(file) = self.file.as_mut() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // /dev/kmsg returns one record per read; a regular file (a test's
        // fake) returns many, so split on record boundaries too.
        let mut buf = vec![0u8; 16 * 1024];
        let mut pending = String::new();
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => pending.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EPIPE: records were overwritten while we read; go on.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        let mut record = String::new();
        for line in pending.split_inclusive('\n') {
            if line.starts_with(' ') {
                record.push_str(line);
                continue;
            }
            if let Some(r) = LogRecord::parse(&record) {
                out.push(r);
            }
            record = line.to_string();
        }
        if let Some(r) = LogRecord::parse(&record) {
            out.push(r);
        }
        out
    }

    /// The new records that are about module `name`, or, at error level or
    /// worse, from the kernel itself (its module loader does not always
    /// name the module, e.g. "decompression failed with status 6"). The
    /// once-per-boot taint notices ("loading out-of-tree module taints
    /// kernel") are never the reason for a refusal and are left out.
    pub fn read_about(&mut self, names: &[&str]) -> Vec<LogRecord> {
        self.read_new()
            .into_iter()
            .filter(|r| !r.is_taint_notice())
            .filter(|r| {
                names.iter().any(|n| r.mentions_module(n)) || (r.facility == 0 && r.level <= 3)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn params_are_joined_and_quoted_like_kmod() {
        assert_eq!(join_params(&os(&[])), b"");
        assert_eq!(join_params(&os(&["param=5"])), b"param=5");
        assert_eq!(join_params(&os(&["a=1", "b"])), b"a=1 b");
        assert_eq!(join_params(&os(&["name=two words"])), b"name=\"two words\"");
        assert_eq!(
            join_params(&os(&["name=\"quoted already\""])),
            b"name=\"quoted already\""
        );
        assert_eq!(join_params(&os(&["name='single q'"])), b"name='single q'");
        assert_eq!(join_params(&os(&["no equals here"])), b"no equals here");
        assert_eq!(join_params(&os(&["k=v=w x"])), b"k=\"v=w x\"");
        // kmod's separator depends on what is already there, not on the
        // argument's position (checked against kmod's modprobe -n -v).
        assert_eq!(join_params(&os(&["", "x=1"])), b"x=1");
        assert_eq!(join_params(&os(&["", ""])), b"");
        assert_eq!(join_params(&os(&["x=1", "", "y=2", ""])), b"x=1  y=2 ");
    }

    #[test]
    fn kmsg_records_parse() {
        let r = LogRecord::parse("4,1234,5678901,-;mod_c: Unknown symbol mod_b_value (err -2)\n")
            .unwrap();
        assert_eq!(r.level, 4);
        assert_eq!(r.facility, 0);
        assert_eq!(r.sequence, 1234);
        assert_eq!(r.timestamp_us, 5678901);
        assert_eq!(r.message, "mod_c: Unknown symbol mod_b_value (err -2)");
        assert!(r.mentions_module("mod_c"));
        assert!(!r.mentions_module("mod_b"));
        assert!(r.mentions_module("mod_b_value"));
        assert_eq!(r.unknown_symbol(), Some(("mod_c", "mod_b_value")));

        let r = LogRecord::parse("14,7,9,c,extra;hello\n SUBSYSTEM=x\n").unwrap();
        assert_eq!((r.level, r.facility), (6, 1));
        assert_eq!(r.message, "hello");
        assert!(LogRecord::parse("garbage").is_none());
        let r = LogRecord::parse("6,1,1,-;module mod_a: bad layout").unwrap();
        assert!(r.mentions_module("mod_a"));
        assert_eq!(r.unknown_symbol(), None);
        assert!(!r.mentions_module("mod"));
    }

    #[test]
    fn force_flags() {
        assert_eq!(Force::default().init_flags(), ModuleInitFlags::empty());
        assert_eq!(Force::ALL.init_flags().bits(), 3);
        assert!(!Force::default().any());
    }
}
