//! modprobe.d: which files, in which order, and what each line means.
//! The lookups are in `modprobe_lookup.rs`, `modprobe -c` in `modprobe_show.rs`.
//!
//! Files come from the config directories (or `-C` paths), merged into one
//! list sorted by basename where the first directory offering a name wins,
//! with the module directory's `modules.softdep` and `modules.weakdep` in
//! that list too. After all files, the kernel command line adds its options
//! and blacklists. Every directive is kept in that parse order, which is the
//! order of `modprobe -c` and of every "all matches" lookup.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::files::{self, ConfFile, ConfList, Flavor};
use super::kcmdline;
use super::lines::{lines, Line};
use super::msg;
use crate::diagnostics::{Diagnostic, Level, Sink};
use crate::name::underscores;
use crate::Root;

/// The default config directories, highest precedence first (target paths;
/// `/usr/lib` is Debian's DISTCONFDIR).
pub const DEFAULT_DIRS: [&str; 5] = [
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
];

/// `alias PATTERN MODNAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The modalias pattern (shell-style wildcards allowed), dashes turned into underscores.
    pub pattern: Vec<u8>,
    /// The module the pattern resolves to, dashes turned into underscores.
    pub modname: Vec<u8>,
}

/// `options MODNAME OPTIONS`, from a file or the kernel command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModOptions {
    /// The module the options apply to, dashes turned into underscores.
    pub modname: Vec<u8>,
    /// Verbatim rest of the line, tabs turned into spaces.
    pub options: Vec<u8>,
    /// Came from `/proc/cmdline` rather than a file.
    pub from_kernel_cmdline: bool,
}

/// `install MODNAME COMMAND` or `remove MODNAME COMMAND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The module whose loading or removal the command replaces, dashes turned into underscores.
    pub modname: Vec<u8>,
    /// The shell command as written, run through `system(3)` in place of the load or removal.
    pub command: Vec<u8>,
}

/// `softdep MODNAME [pre: ...] [post: ...]`.
///
/// Dependency names are kept as written (not normalised), in line order
/// with their kind, because `modprobe -c` shows the span from the first to
/// the last `pre:` name, which takes in `post:` names written in between.
/// The line's rest is kept as one string and split when asked: contexts
/// are made far more often (udev makes one per reload) than softdeps read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftDep {
    /// The module the soft dependencies belong to, dashes turned into underscores.
    pub modname: Vec<u8>,
    rest: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Pre,
    Post,
}

impl SoftDep {
    /// Modules to load before, in line order.
    pub fn pre(&self) -> impl Iterator<Item = &[u8]> {
        self.of(DepKind::Pre)
    }

    /// Modules to load after, in line order.
    pub fn post(&self) -> impl Iterator<Item = &[u8]> {
        self.of(DepKind::Post)
    }

    fn of(&self, kind: DepKind) -> impl Iterator<Item = &[u8]> {
        self.names()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, n)| n)
    }

    /// Every name after a `pre:` or `post:`, with its kind, in line order.
    fn names(&self) -> impl Iterator<Item = (DepKind, &[u8])> {
        let mut mode = None;
        split_words(&self.rest).filter_map(move |w| {
            match w {
                b"pre:" => mode = Some(DepKind::Pre),
                b"post:" => mode = Some(DepKind::Post),
                _ => return mode.map(|kind| (kind, w)),
            }
            None
        })
    }

    /// kmod's `softdep_to_char`: `pre: ` + the span of pre names, then
    /// `post: ` + the span of post names, with no separator between them.
    pub fn display(&self) -> Vec<u8> {
        let names: Vec<(DepKind, &[u8])> = self.names().collect();
        let mut out = Vec::new();
        for (kind, prefix) in [(DepKind::Pre, &b"pre: "[..]), (DepKind::Post, b"post: ")] {
            let first = names.iter().position(|(k, _)| *k == kind);
            let last = names.iter().rposition(|(k, _)| *k == kind);
            if let (Some(first), Some(last)) = (first, last) {
                out.extend_from_slice(prefix);
                let span: Vec<&[u8]> = names[first..=last].iter().map(|(_, n)| *n).collect();
                out.extend_from_slice(&span.join(&b' '));
            }
        }
        out
    }
}

/// `weakdep MODNAME names...` (the list may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakDep {
    /// The module the weak dependencies belong to, dashes turned into underscores.
    pub modname: Vec<u8>,
    /// Modules to load alongside if they exist, as written on the line.
    pub names: Vec<Vec<u8>>,
}

/// Where the kernel command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelCmdline {
    /// `/proc/cmdline` under the root, as kmod does.
    Proc,
    /// This text instead (tests, image builders).
    Text(Vec<u8>),
    /// Not at all.
    Ignore,
}

/// How to load: kmod's `kmod_new(dirname, config_paths)` inputs.
#[derive(Debug, Clone)]
pub struct LoadOptions<'a> {
    /// The root every path is resolved under.
    pub root: &'a Root,
    /// `-C` paths (files or directories), replacing [`DEFAULT_DIRS`].
    pub config_paths: Option<Vec<PathBuf>>,
    /// The module directory (target path) holding `modules.softdep` and
    /// `modules.weakdep`; default `/lib/modules/<kernel release>`.
    pub module_dir: Option<PathBuf>,
    /// Whether and from where `modname.param=value` options are taken from the kernel command line.
    pub kernel_cmdline: KernelCmdline,
}

impl<'a> LoadOptions<'a> {
    /// Defaults: the standard directories, the running kernel's module
    /// directory and `/proc/cmdline`, all under `root`.
    pub fn new(root: &'a Root) -> LoadOptions<'a> {
        LoadOptions {
            root,
            config_paths: None,
            module_dir: None,
            kernel_cmdline: KernelCmdline::Proc,
        }
    }
}

/// A loaded configuration and what kmod would have logged while loading it.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The directives read.
    pub config: ModprobeConfig,
    /// In kmod's logging order; print them with [`Diagnostic::libkmod_line`].
    pub diagnostics: Vec<Diagnostic>,
}

/// Every directive, each kind in parse order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModprobeConfig {
    /// `alias` lines, in file order (the indexes' aliases are not here).
    pub aliases: Vec<Alias>,
    /// `options` lines from the files, then `modname.param=value` from the kernel command line.
    pub options: Vec<ModOptions>,
    /// `install` lines.
    pub installs: Vec<Command>,
    /// `remove` lines.
    pub removes: Vec<Command>,
    /// Modules never loaded through an alias: `blacklist` lines, then `modprobe.blacklist=` on the
    /// kernel command line.
    pub blacklists: Vec<Vec<u8>>,
    /// `softdep` lines, the module directory's `modules.softdep` sorted in among the config files
    /// by name.
    pub softdeps: Vec<SoftDep>,
    /// `weakdep` lines, the module directory's `modules.weakdep` sorted in among the config files
    /// by name.
    pub weakdeps: Vec<WeakDep>,
}

impl ModprobeConfig {
    /// Loads everything kmod's `kmod_new` reads.
    pub fn load(opts: &LoadOptions<'_>) -> Loaded {
        let root = opts.root;
        let mut diags = Vec::new();
        let mut list = ConfList::default();

        let module_dir = match &opts.module_dir {
            Some(d) => d.clone(),
            None => root.module_dir(None, None),
        };
        let dir = module_dir.as_os_str().as_bytes();
        for pseudo in ["modules.softdep", "modules.weakdep"] {
            let display = msg(&[dir, b"/", pseudo.as_bytes()]);
            let host = root.host(&module_dir).join(pseudo);
            list.insert(ConfFile {
                name: pseudo.as_bytes().to_vec(),
                display,
                host,
                single: false,
            });
        }
        match &opts.config_paths {
            Some(paths) => {
                for p in paths {
                    list.add_path(root, p, Flavor::Modprobe, &mut diags);
                }
            }
            None => {
                for p in DEFAULT_DIRS {
                    list.add_path(root, Path::new(p), Flavor::Modprobe, &mut diags);
                }
            }
        }

        let mut config = ModprobeConfig::default();
        for file in &list.files {
            config.read_file(file, &mut diags);
        }

        let cmdline = match &opts.kernel_cmdline {
            KernelCmdline::Proc => kcmdline::read(root, &mut diags),
            KernelCmdline::Text(t) => Some(t.clone()),
            KernelCmdline::Ignore => None,
        };
        if let Some(text) = cmdline {
            config.add_kernel_cmdline(&text, &mut diags);
        }
        Loaded {
            config,
            diagnostics: diags,
        }
    }

    fn read_file(&mut self, file: &ConfFile, diags: &mut dyn Sink) {
        // kmod builds "<dir>/<name>" in a PATH_MAX buffer; a -C file given
        // by itself is used as is.
        if !file.single && files::too_long(&file.display) {
            diags.log_from(
                "kmod_config_new",
                Level::Err,
                &msg(&[b"Error parsing ", &file.display, b": path too long"]),
            );
            return;
        }
        // Unopenable files are skipped without a word.
        let Ok(handle) = files::open_config(&file.host) else {
            return;
        };
        let contents = files::read_config(handle);
        self.parse(&file.display, &contents.data, diags);
        if contents.truncated {
            diags.log_from(
                "kmod_config_parse",
                Level::Err,
                &files::truncated_message(&file.display),
            );
        }
    }

    /// Parses one file's contents; `file` is the name used in messages.
    pub fn parse(&mut self, file: &[u8], data: &[u8], diags: &mut dyn Sink) {
        for line in lines(data) {
            self.parse_line(file, &line, diags);
        }
    }

    fn parse_line(&mut self, file: &[u8], line: &Line, diags: &mut dyn Sink) {
        if line.is_blank_or_comment() {
            return;
        }
        let mut t = line.tokens();
        let Some(cmd) = t.word() else { return };
        let name = |w: Option<&[u8]>| w.and_then(|w| underscores(w).ok());
        let ok = match cmd {
            b"alias" => match (name(t.word()), name(t.word())) {
                (Some(pattern), Some(modname)) => {
                    self.aliases.push(Alias { pattern, modname });
                    true
                }
                _ => false,
            },
            b"blacklist" => match name(t.word()) {
                Some(m) => {
                    self.blacklists.push(m);
                    true
                }
                None => false,
            },
            b"options" | b"install" | b"remove" | b"softdep" | b"weakdep" => {
                let modname = name(t.word());
                match (modname, t.rest()) {
                    (Some(modname), Some(rest)) => {
                        self.add_with_rest(cmd, modname, rest);
                        true
                    }
                    _ => false,
                }
            }
            b"include" | b"config" => {
                diags.log_from(
                    "kmod_config_parse",
                    Level::Err,
                    &msg(&[
                        file,
                        b": command ",
                        cmd,
                        b" is deprecated and not parsed anymore",
                    ]),
                );
                true
            }
            _ => false,
        };
        if !ok {
            let n = line.number.to_string();
            diags.log_from(
                "kmod_config_parse",
                Level::Err,
                &msg(&[
                    file,
                    b" line ",
                    n.as_bytes(),
                    b": ignoring bad line starting with '",
                    cmd,
                    b"'",
                ]),
            );
        }
    }

    fn add_with_rest(&mut self, cmd: &[u8], modname: Vec<u8>, rest: &[u8]) {
        match cmd {
            b"options" => self.add_options(modname, rest, false),
            b"install" => self.installs.push(Command {
                modname,
                command: rest.to_vec(),
            }),
            b"remove" => self.removes.push(Command {
                modname,
                command: rest.to_vec(),
            }),
            b"softdep" => self.softdeps.push(SoftDep {
                modname,
                rest: rest.to_vec(),
            }),
            _ => {
                let names = split_words(rest).map(<[u8]>::to_vec).collect();
                self.weakdeps.push(WeakDep { modname, names });
            }
        }
    }

    fn add_options(&mut self, modname: Vec<u8>, options: &[u8], from_kernel_cmdline: bool) {
        let options = options
            .iter()
            .map(|&c| if c == b'\t' { b' ' } else { c })
            .collect();
        self.options.push(ModOptions {
            modname,
            options,
            from_kernel_cmdline,
        });
    }

    /// Adds a kernel command line's options and blacklists (after all files).
    pub fn add_kernel_cmdline(&mut self, cmdline: &[u8], diags: &mut dyn Sink) {
        for e in kcmdline::parse(cmdline, diags) {
            match e {
                kcmdline::Entry::Options { modname, options } => {
                    self.add_options(modname, &options, true)
                }
                kcmdline::Entry::Blacklist(b) => self.blacklists.push(b),
            }
        }
    }
}

/// C `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// kmod's word splitting for softdep/weakdep lines, quirk included: a single
/// whitespace byte at the very start is not skipped but glued to the first
/// word (so `softdep m  pre: a`, whose rest is ` pre: a`, has no `pre:`).
fn split_words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut p = 0usize;
    let mut was_space = false;
    let mut s = 0usize;
    std::iter::from_fn(move || loop {
        if s > line.len() {
            return None;
        }
        let at = s;
        s += 1;
        let c = line.get(at).copied().unwrap_or(0);
        if c != 0 {
            if !is_space(c) {
                was_space = false;
                continue;
            }
            if was_space {
                p = at + 1;
                continue;
            }
            was_space = true;
            if p >= at {
                continue;
            }
        }
        let word = &line[p.min(at)..at];
        p = at + 1;
        if c != 0 || !was_space {
            return Some(word);
        }
    })
}

#[cfg(test)]
#[path = "modprobe_tests.rs"]
mod tests;
