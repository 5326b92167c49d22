//! The state file: what it holds, its text form, and how it is read and
//! replaced safely while other processes do the same.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

use super::{Error, LOCK_FILE, STATE_DIR, STATE_FILE, TEMP_FILE};
use crate::Root;

/// One module loaded at the kernel's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The module's name, bytes as the kernel has them.
    pub name: Vec<u8>,
    /// Which load of the module this record is about
    /// ([`crate::probe::System::instance`]).
    pub instance: u64,
    /// Found unused by the last sweep (the second mark).
    pub unused: bool,
}

/// The recorded modules, oldest record first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// One record per module, oldest first.
    pub entries: Vec<Entry>,
}

const HEADER: &str = "# Modules the kernel had modprobe load, for rmmod -a (autoclean).\n\
                      # NAME INSTANCE MARK; MARK is \"unused\" when the last sweep found it unused.\n";

impl State {
    /// Parses the file's contents; `path` names it in errors.
    pub fn parse(text: &[u8], path: &str) -> Result<State, Error> {
        let mut entries: Vec<Entry> = Vec::new();
        let lines = text.strip_suffix(b"\n").unwrap_or(text);
        for (i, line) in lines.split(|&c| c == b'\n').enumerate() {
            let bad = |reason| Error::Format {
                path: PathBuf::from(path),
                line: i + 1,
                reason,
            };
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            let fields: Vec<&[u8]> = line
                .split(u8::is_ascii_whitespace)
                .filter(|f| !f.is_empty())
                .collect();
            let [name, instance, mark] = fields[..] else {
                return Err(bad("expected NAME INSTANCE MARK"));
            };
            if name.contains(&b'/') || name.len() >= crate::name::PATH_MAX {
                return Err(bad("not a module name"));
            }
            let instance = std::str::from_utf8(instance)
                .ok()
                .and_then(|i| i.parse().ok())
                .ok_or_else(|| bad("not an instance number"))?;
            let unused = match mark {
                b"unused" => true,
                b"-" => false,
                _ => return Err(bad("the mark is neither \"unused\" nor \"-\"")),
            };
            if entries.iter().any(|e| e.name == name) {
                return Err(bad("a module recorded twice"));
            }
            entries.push(Entry {
                name: name.to_vec(),
                instance,
                unused,
            });
        }
        Ok(State { entries })
    }

    /// The file's contents.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = HEADER.as_bytes().to_vec();
        for e in &self.entries {
            let mark = if e.unused { "unused" } else { "-" };
            text.extend_from_slice(&e.name);
            text.extend_from_slice(format!(" {} {mark}\n", e.instance).as_bytes());
        }
        text
    }

    /// The state as last written; no file is an empty state. Takes no
    /// lock: the file is only ever replaced whole.
    pub fn read(root: &Root) -> Result<State, Error> {
        match fs::read(root.host(STATE_FILE)) {
            Ok(text) => State::parse(&text, STATE_FILE),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io("read", STATE_FILE)(e)),
        }
    }

    /// Reads the state, lets `change` modify it, and writes it back, all
    /// under the exclusive lock, so that concurrent updates are applied
    /// one after the other. Creates the directory when needed.
    pub fn update<R>(root: &Root, change: impl FnOnce(&mut State) -> R) -> Result<R, Error> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(root.host(STATE_DIR))
            .map_err(Error::io("create", STATE_DIR))?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(root.host(LOCK_FILE))
            .map_err(Error::io("open", LOCK_FILE))?;
        flock_exclusive(&lock).map_err(Error::io("lock", LOCK_FILE))?;
        let mut state = State::read(root)?;
        let result = change(&mut state);
        state.write(root)?;
        // Closing the lock file releases the lock.
        drop(lock);
        Ok(result)
    }

    /// Replaces the file: the new text goes to a temporary file, which is
    /// renamed over the old one, so a reader sees one or the other whole.
    fn write(&self, root: &Root) -> Result<(), Error> {
        let temp = root.host(TEMP_FILE);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp)
            .map_err(Error::io("create", TEMP_FILE))?;
        file.write_all(&self.to_bytes())
            .and_then(|()| file.sync_all())
            .map_err(Error::io("write", TEMP_FILE))?;
        fs::rename(&temp, root.host(STATE_FILE)).map_err(Error::io("replace", STATE_FILE))
    }
}

fn flock_exclusive(file: &File) -> std::io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor this function borrows.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
