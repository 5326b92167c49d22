//! `modules.devname`: the device nodes modules provide, which systemd creates
//! at boot (through `kmod static-nodes`) so that opening one loads its module.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use crate::Root;

/// One entry: `<module> <devname> <c|b><major>:<minor>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnameEntry {
    /// The module that provides the device node, by name.
    pub module: Vec<u8>,
    /// The node's path below `/dev`.
    pub devname: Vec<u8>,
    /// A block device (`b`) rather than a character device (`c`).
    pub block: bool,
    /// The device's major number.
    pub major: u32,
    /// The device's minor number.
    pub minor: u32,
}

/// Parses one line the way kmod reads it (a C `sscanf` of
/// `"%s %s %c%u:%u"`): fields are whitespace-separated, the type character
/// may be followed directly by the major number, and trailing text is
/// ignored. `None` for a malformed line.
pub fn parse_line(line: &[u8]) -> Option<DevnameEntry> {
    let mut rest = line;
    let module = word(&mut rest)?;
    let devname = word(&mut rest)?;
    rest = skip_space(rest);
    let (&kind, tail) = rest.split_first()?;
    let block = match kind {
        b'c' => false,
        b'b' => true,
        _ => return None,
    };
    rest = tail;
    let major = unsigned(&mut rest)?;
    rest = rest.strip_prefix(b":")?;
    let minor = unsigned(&mut rest)?;
    Some(DevnameEntry {
        module: module.to_vec(),
        devname: devname.to_vec(),
        block,
        major,
        minor,
    })
}

// `sscanf` splits on C's whitespace ([`crate::cnum::is_space`]).
fn skip_space(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| crate::cnum::is_space(**b)).count();
    &s[n..]
}

fn word<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let s = skip_space(rest);
    let n = s.iter().take_while(|b| !crate::cnum::is_space(**b)).count();
    if n == 0 {
        return None;
    }
    *rest = &s[n..];
    Some(&s[..n])
}

/// `%u`: optional whitespace and sign, then digits, converted as C's
/// `strtoul` does ([`crate::cnum`]: a minus wraps around, a value past 64
/// bits is all ones, whatever its sign) and cut to 32 bits.
fn unsigned(rest: &mut &[u8]) -> Option<u32> {
    let s = skip_space(rest);
    let p = crate::cnum::strtoull(s, 10)?;
    *rest = &s[p.used..];
    Some(p.value as u32)
}

/// A line of `modules.devname` as `kmod static-nodes` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A well-formed entry.
    Entry(DevnameEntry),
    /// A line [`parse_line`] refuses, as read (newline included).
    Invalid(Vec<u8>),
}

/// The lines of a `modules.devname`, read as kmod reads them: with a
/// 4095-byte `fgets`, so a longer line arrives in pieces, each read as a
/// line; comment lines (`#` first) are skipped.
pub struct Lines {
    reader: BufReader<File>,
    piece: Vec<u8>,
}

impl Lines {
    /// Opens `path`, a target path under `root`.
    pub fn open(root: &Root, path: &Path) -> io::Result<Lines> {
        Ok(Lines {
            reader: BufReader::new(File::open(root.host(path))?),
            piece: Vec::new(),
        })
    }
}

impl Iterator for Lines {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        while read_piece(&mut self.reader, &mut self.piece, 4095) {
            if self.piece.first() == Some(&b'#') {
                continue;
            }
            return Some(match parse_line(&self.piece) {
                Some(entry) => Line::Entry(entry),
                None => Line::Invalid(self.piece.clone()),
            });
        }
        None
    }
}

/// Reads up to `max` bytes, stopping after a newline; false at end of
/// file (and on a read error, which ends the file for `fgets` too).
fn read_piece(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> bool {
    line.clear();
    while line.len() < max {
        let buf = match reader.fill_buf() {
            Ok(b) if !b.is_empty() => b,
            _ => break,
        };
        let room = max - line.len();
        let take = match buf.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => buf.len().min(room),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if line.last() == Some(&b'\n') {
            break;
        }
    }
    !line.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_as_fgets_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("m {} c1:2\n", "d".repeat(4100));
        let text = format!("# comment\nfuse fuse c10:229\nbad line\n{long}");
        std::fs::create_dir_all(dir.path().join("x")).unwrap();
        std::fs::write(dir.path().join("x/modules.devname"), &text).unwrap();
        let root = Root::at(dir.path());
        let lines: Vec<Line> = Lines::open(&root, Path::new("/x/modules.devname"))
            .unwrap()
            .collect();
        assert_eq!(lines.len(), 4);
        assert!(matches!(&lines[0], Line::Entry(e) if e.devname == b"fuse" && e.minor == 229));
        assert_eq!(lines[1], Line::Invalid(b"bad line\n".to_vec()));
        // The first 4095 bytes of the long line hold no device type; the
        // rest arrives as a line of its own.
        assert!(matches!(&lines[2], Line::Invalid(p) if p.len() == 4095));
        assert!(matches!(&lines[3], Line::Invalid(p) if p.ends_with(b"c1:2\n")));
    }

    #[test]
    fn parses_entries_like_sscanf() {
        let e = parse_line(b"fuse fuse c10:229\n").unwrap();
        assert_eq!(
            (
                e.module.as_slice(),
                e.devname.as_slice(),
                e.block,
                e.major,
                e.minor
            ),
            (&b"fuse"[..], &b"fuse"[..], false, 10, 229)
        );
        let e =
            parse_line(b"  loop-ctl   loop-control  b 10 : 237 tail").map(|e| (e.block, e.major));
        assert_eq!(e, None, "a space before ':' is not accepted by %u:%u");
        let e = parse_line(b"m d b 7:-1").unwrap();
        assert_eq!((e.block, e.major, e.minor), (true, 7, u32::MAX));
        assert!(parse_line(b"m d x1:2").is_none());
        assert!(parse_line(b"m d c1").is_none());
        assert!(parse_line(b"m\n").is_none());
    }
}
