//! The configuration part of `modprobe -c`.

use super::modprobe::ModprobeConfig;

/// What `modprobe -c` prints after the config lines and before dumping the
/// alias and symbol indexes: an empty line, the marker, an empty line.
pub const END_OF_CONFIG: &[u8] = b"\n# End of configuration files. Dumping indexes now:\n\n";

impl ModprobeConfig {
    /// The config lines of `modprobe -c` followed by [`END_OF_CONFIG`]; the
    /// caller appends the index dumps.
    ///
    /// Sections come in a fixed order, each in parse order, as
    /// `<section> <key>[ <value>]`. Softdeps and weakdeps always have a value,
    /// possibly empty, hence a trailing space (`weakdep m \n`).
    pub fn show_config(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut line = |section: &str, key: &[u8], value: Option<&[u8]>| {
            out.extend_from_slice(section.as_bytes());
            out.push(b' ');
            out.extend_from_slice(key);
            if let Some(v) = value {
                out.push(b' ');
                out.extend_from_slice(v);
            }
            out.push(b'\n');
        };
        for b in &self.blacklists {
            line("blacklist", b, None);
        }
        for c in &self.installs {
            line("install", &c.modname, Some(&c.command));
        }
        for c in &self.removes {
            line("remove", &c.modname, Some(&c.command));
        }
        for a in &self.aliases {
            line("alias", &a.pattern, Some(&a.modname));
        }
        for o in &self.options {
            line("options", &o.modname, Some(&o.options));
        }
        for d in &self.softdeps {
            line("softdep", &d.modname, Some(&d.display()));
        }
        for d in &self.weakdeps {
            line("weakdep", &d.modname, Some(&d.names.join(&b' ')));
        }
        out.extend_from_slice(END_OF_CONFIG);
        out
    }
}
