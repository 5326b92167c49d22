//! The kernel's own log (`/dev/kmsg`): the lines written while a call ran,
//! to show the user why the kernel refused.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;

use crate::Root;

/// Where the kernel log is read from.
pub const DEV_KMSG: &str = "/dev/kmsg";

/// One record of the kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// syslog level, 0 (emergency) to 7 (debug).
    pub level: u8,
    /// syslog facility; 0 is the kernel itself.
    pub facility: u32,
    /// The record's sequence number, counting every record the kernel logged since boot.
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
}
