//! Module options and blacklists on the kernel command line.
//!
//! `mod.param[=value]` becomes `options mod param[=value]`, and
//! `modprobe.blacklist=a,b` blacklists `a` and `b`. kmod reads at most 4095
//! bytes of `/proc/cmdline` and scans them with a small state machine; its
//! corner cases are visible in `modprobe -c`, so it is reproduced step by
//! step here, including the re-quoting of grub's `"mod.p=a b"` into
//! `mod p="a b"`.

use std::io::Read;

use super::{files, msg};
use crate::diagnostics::{errno_of, strerror, Level, Sink};
use crate::name::underscores_in_place;
use crate::Root;

/// kmod reads the command line into a 4096-byte buffer, NUL included.
pub const MAX_LEN: usize = 4095;

/// Where the kernel command line is read from (a target path).
pub const PROC_CMDLINE: &str = "/proc/cmdline";

/// What one command line item adds to the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `options <modname> <options>`; `options` is kept verbatim (tabs are
    /// turned into spaces when it is stored, as for config files).
    Options {
        /// The module the `modname.param=value` item is for, dashes turned into underscores.
        modname: Vec<u8>,
        /// The parameter, `param` or `param=value`, requoted as an `options` line would have it.
        options: Vec<u8>,
    },
    /// `blacklist <name>`, not normalised: kmod stores these as written.
    Blacklist(Vec<u8>),
}

/// Reads `/proc/cmdline` under `root` as kmod does: a file that cannot be
/// opened is silently skipped; a read error is reported to `diags`, and
/// the command line is then taken as absent.
pub fn read(root: &Root, diags: &mut dyn Sink) -> Option<Vec<u8>> {
    let Ok(file) = files::open_config(&root.host(PROC_CMDLINE)) else {
        return None;
    };
    let mut buf = Vec::with_capacity(MAX_LEN);
    let mut limited = file.take(MAX_LEN as u64);
    loop {
        let mut chunk = [0u8; 1024];
        match limited.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // kmod retries EAGAIN forever; a non-blocking source with no data
            // (our FIFO guard) simply ends here.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => {
                let err = strerror(errno_of(&e));
                diags.log_from(
                    "kmod_config_parse_kcmdline",
                    Level::Err,
                    &msg(&[
                        b"could not read from '",
                        PROC_CMDLINE.as_bytes(),
                        b"': ",
                        err.as_bytes(),
                    ]),
                );
                return None;
            }
        }
    }
    Some(buf)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ignore,
    Modname,
    Param,
    Value,
    Complete,
}

/// Parses a command line (only its first [`MAX_LEN`] bytes, up to a NUL).
/// Returns the entries in command line order; kmod's messages go to `diags`.
pub fn parse(cmdline: &[u8], diags: &mut dyn Sink) -> Vec<Entry> {
    let mut buf = cmdline[..cmdline.len().min(MAX_LEN)].to_vec();
    buf.push(0);
    let mut entries = Vec::new();

    // Indices into `buf`, mirroring kmod's pointers; `param` and `value` keep
    // stale values between items exactly as kmod's do.
    let mut modname = 0usize;
    let mut param: Option<usize> = None;
    let mut value: Option<usize> = None;
    let mut quote_start: Option<usize> = None;
    let mut quoted = false;
    let mut state = State::Modname;
    let mut p = 0usize;
    let mut more = true;
    while more && p < buf.len() {
        match buf[p] {
            b'"' => {
                quoted = !quoted;
                // A quote may only open an item; anywhere else outside a value
                // it makes the item ill-formed.
                if quoted && state == State::Modname && p == modname {
                    quote_start = Some(p);
                    modname = p + 1;
                } else if state != State::Value {
                    state = State::Ignore;
                }
            }
            c @ (0 | b' ' | b'\n' | b'\t' | 0x0b | 0x0c | b'\r') => {
                if c == 0 {
                    more = false;
                }
                if quoted && state == State::Value {
                    // whitespace inside a quoted value
                } else if quoted {
                    state = State::Ignore;
                } else if state == State::Value || state == State::Param {
                    buf[p] = 0;
                    state = State::Complete;
                } else {
                    modname = p + 1;
                    state = State::Modname;
                    quote_start = None;
                }
            }
            b'.' => {
                if state == State::Modname {
                    buf[p] = 0;
                    param = Some(p + 1);
                    state = State::Param;
                } else if state == State::Param {
                    state = State::Ignore;
                }
            }
            b'=' => {
                // The value starts after '=', which stays part of the param.
                if state == State::Param {
                    value = Some(p + 1);
                    state = State::Value;
                } else if state == State::Modname {
                    state = State::Ignore;
                }
            }
            _ => {}
        }

        if state == State::Complete {
            // grub passes `"mod.p=a b"`; move the opening quote to the value:
            // `mod.p="a b"`.
            if let (Some(q), Some(v)) = (quote_start, value) {
                if q < modname && modname <= v {
                    buf.copy_within(modname..v, q);
                    modname -= 1;
                    param = param.map(|x| x - 1);
                    value = Some(v - 1);
                    buf[v - 1] = b'"';
                }
            }
            add_result(&buf, modname, param, value, &mut entries, diags);
            modname = p + 1;
            state = State::Modname;
            quote_start = None;
        }
        p += 1;
    }
    entries
}

/// kmod's `kcmdline_parse_result`.
fn add_result(
    buf: &[u8],
    modname: usize,
    param: Option<usize>,
    value: Option<usize>,
    entries: &mut Vec<Entry>,
    diags: &mut dyn Sink,
) {
    let Some(param) = param else { return };
    let cstr = |at: usize| super::lines::c_str(&buf[at.min(buf.len())..]);
    let name = cstr(modname);
    let param = cstr(param);
    if name == b"modprobe" && param.starts_with(b"blacklist=") {
        // strsep: every comma-separated piece, empty ones included.
        if let Some(v) = value {
            for piece in cstr(v).split(|&c| c == b',') {
                entries.push(Entry::Blacklist(piece.to_vec()));
            }
        }
        return;
    }
    let mut name = name.to_vec();
    if underscores_in_place(&mut name).is_err() {
        diags.log_from(
            "kcmdline_parse_result",
            Level::Err,
            &msg(&[
                b"Ignoring bad option on kernel command line while parsing module name: '",
                &name,
                b"'",
            ]),
        );
        return;
    }
    entries.push(Entry::Options {
        modname: name,
        options: param.to_vec(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Diagnostic;

    fn opts(line: &str) -> Vec<String> {
        parse(line.as_bytes(), &mut Vec::new())
            .iter()
            .map(|e| match e {
                Entry::Options { modname, options } => format!(
                    "options {} {}",
                    String::from_utf8_lossy(modname),
                    String::from_utf8_lossy(options)
                ),
                Entry::Blacklist(b) => format!("blacklist {}", String::from_utf8_lossy(b)),
            })
            .collect()
    }

    #[test]
    fn params_with_and_without_values() {
        assert_eq!(
            opts("psmouse.foo psmouse.bar=1\n"),
            ["options psmouse foo", "options psmouse bar=1"]
        );
        assert_eq!(opts("x-y.z=1"), ["options x_y z=1"]);
    }

    #[test]
    fn unrelated_tokens_are_ignored() {
        assert_eq!(
            opts("quiet root=/dev/sda1 ro -- --x a.b=c"),
            ["options a b=c"]
        );
        // '=' before the '.', and a second '.' in the param part.
        assert_eq!(opts("q=r.s n.o.p=2"), Vec::<String>::new());
        // Dots in the value are fine: 1.5G.
        assert_eq!(
            opts("t.u=v.w mem.size=1.5G"),
            ["options t u=v.w", "options mem size=1.5G"]
        );
    }

    #[test]
    fn blacklists() {
        assert_eq!(
            opts("modprobe.blacklist=a-b,c modprobe.blacklist=d"),
            ["blacklist a-b", "blacklist c", "blacklist d"]
        );
        assert_eq!(
            opts("modprobe.blacklist=,x,"),
            ["blacklist ", "blacklist x", "blacklist "]
        );
        // Only `modprobe.blacklist=`; other modprobe params are options.
        assert_eq!(opts("modprobe.foo=1"), ["options modprobe foo=1"]);
    }

    #[test]
    fn quoting() {
        assert_eq!(opts(r#"j.k="l m""#), [r#"options j k="l m""#]);
        // grub style: re-quoted.
        assert_eq!(
            opts(r#"psmouse.foo "parport.dyndbg=file drivers/parport/ieee1284_ops.c +mpf" quiet"#),
            [
                "options psmouse foo",
                r#"options parport dyndbg="file drivers/parport/ieee1284_ops.c +mpf""#
            ]
        );
        assert_eq!(
            opts(r#""m.p=1" x.y"#),
            [r#"options m p="1""#, "options x y"]
        );
        assert_eq!(opts(r#""t.u=v"w"#), [r#"options t u="v"w"#]);
        // A quote closing outside a value, or a quote mid-token, spoils it.
        assert_eq!(opts(r#""r.s" a.b"#), ["options a b"]);
        assert_eq!(opts(r#"a"b c.d=e "f.g=h""#), Vec::<String>::new());
        // Whitespace inside quotes is only allowed in the value.
        assert_eq!(opts(r#""a b.c=d" e.f"#), ["options e f"]);
    }

    #[test]
    fn odd_but_accepted() {
        assert_eq!(
            opts("p. .q=1 k.=3"),
            ["options p ", "options  q=1", "options k =3"]
        );
    }

    #[test]
    fn bad_module_names() {
        let mut diags: Vec<Diagnostic> = Vec::new();
        let entries = parse(
            b"psmouse.foo=2 ivrs_acpihid[14:00.5]=AMD0020:00 a-b[.x=1 psmouse.bar=1",
            &mut diags,
        );
        assert_eq!(entries.len(), 2);
        let texts: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            texts,
            [
                "Ignoring bad option on kernel command line while parsing module name: 'ivrs_acpihid[14:00'",
                "Ignoring bad option on kernel command line while parsing module name: 'a_b['",
            ]
        );
        assert_eq!(diags[0].function, "kcmdline_parse_result");
    }

    #[test]
    fn only_the_first_4095_bytes_count() {
        let mut line = "x".repeat(4085);
        line.push_str(" a.bcdefghij=1");
        assert_eq!(opts(&line), ["options a bcdefgh"]);
    }

    #[test]
    fn nul_ends_the_line_and_newline_is_whitespace() {
        assert_eq!(opts("a.b=1\0c.d=2"), ["options a b=1"]);
        assert_eq!(opts("a.b=1\nc.d=2\n"), ["options a b=1", "options c d=2"]);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678u32;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let mut s = Vec::with_capacity(len);
            for _ in 0..len {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                s.push(b"ab.=\" \t-[],\0x"[(seed >> 16) as usize % 13]);
            }
            let _ = parse(&s, &mut Vec::new());
        }
    }
}
