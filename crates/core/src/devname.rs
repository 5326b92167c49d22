//! `modules.devname`: the device nodes modules provide, which systemd creates
//! at boot (through `kmod static-nodes`) so that opening one loads its module.

/// One entry: `<module> <devname> <c|b><major>:<minor>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnameEntry {
    pub module: Vec<u8>,
    /// The node's path below `/dev`.
    pub devname: Vec<u8>,
    pub block: bool,
    pub major: u32,
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

fn skip_space(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn word<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let s = skip_space(rest);
    let n = s.iter().take_while(|b| !b.is_ascii_whitespace()).count();
    if n == 0 {
        return None;
    }
    *rest = &s[n..];
    Some(&s[..n])
}

/// `%u`: optional whitespace and sign, then digits; out-of-range values wrap
/// to 32 bits as C's conversion does.
fn unsigned(rest: &mut &[u8]) -> Option<u32> {
    let mut s = skip_space(rest);
    let negative = match s.first() {
        Some(b'-') => {
            s = &s[1..];
            true
        }
        Some(b'+') => {
            s = &s[1..];
            false
        }
        _ => false,
    };
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let value = s[..n].iter().fold(0u64, |v, d| {
        v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    *rest = &s[n..];
    let value = if negative {
        value.wrapping_neg()
    } else {
        value
    };
    Some(value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

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
