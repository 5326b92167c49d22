//! Man pages: clap_mangen renders NAME, SYNOPSIS, DESCRIPTION, OPTIONS
//! (from the option tables that parse the command line and print
//! `--help`) and kmod's COMMANDS; the sections after them are written here.

use roff::{bold, italic, roman, Inline, Roff};

/// One extra section: a title and paragraphs. A paragraph starting with
/// `$ ` is shown as a command example.
type Section = (&'static str, &'static [&'static str]);

const ENVIRONMENT: Section = (
    "ENVIRONMENT",
    &[
        "MODUTILS_SYSROOT=DIR resolves every absolute path the tool reads or writes \
         (/proc, /sys, /lib/modules, /etc/modprobe.d, ...) under DIR, as inside a chroot; \
         the kernel release is then read from DIR/proc/sys/kernel/osrelease when that file exists.",
    ],
);

const COMPATIBILITY: Section = (
    "COMPATIBILITY",
    &[
        "The options, messages, output and exit status follow kmod 34.2, byte for byte where \
         scripts depend on them. Options that kmod does not have (marked [modutils] \
         above) must be written out in full: they are never abbreviated, so every abbreviation \
         of a kmod option keeps its meaning.",
    ],
);

fn sections(tool: &str) -> Vec<Section> {
    let own: Vec<Section> = match tool {
        "kmod" => vec![
            (
                "COMMANDS IN DETAIL",
                &[
                    "kmod list is lsmod. kmod static-nodes prints the device nodes that the \
                     modules of the running kernel provide (modules.devname), for \
                     systemd-tmpfiles or people; -f chooses human, tmpfiles or devname.",
                    "kmod graph [-b DIR] [-k VERSION] [MODULE...] prints the dependency graph \
                     of the module directory in Graphviz's DOT language, from modules.dep.bin: \
                     an edge from each module to each module it needs directly (the transitive \
                     reduction of modules.dep). With modules named (or aliases), only they and \
                     what they need are shown.",
                    "$ kmod graph bttv | dot -Tsvg > bttv.svg",
                ],
            ),
            (
                "SHELL COMPLETION",
                &[
                    "The bash, zsh and fish completions installed with modutils complete module \
                     names by running kmod __complete TOOL WORD..., a command kmod help does not \
                     list. It prints the names that fit after TOOL WORD..., one per line: the \
                     loaded modules for rmmod and modprobe -r (from /proc/modules), else every \
                     module of the module directory (modules.dep.bin; for modinfo the built-in \
                     modules too). The directory is the one the words choose: modprobe's -d and \
                     -S, modinfo's -b and -k.",
                    "$ kmod __complete modprobe -S 6.1.0-56-amd64",
                ],
            ),
        ],
        "lsmod" => vec![(
            "MODUTILS VIEWS",
            &[
                "--tree shows each loaded module that nothing uses, with the modules it uses \
                 beneath it, from the same holders as the Used by column: a module used by \
                 several others appears under each.",
                "--json prints the same list as one JSON document: name, size, use_count \
                 (null where the plain list shows a negative error number) and holders. The \
                 schema is docs/json.md in the modutils sources.",
            ],
        )],
        "modinfo" => vec![(
            "MODUTILS VIEWS",
            &[
                "--json prints one JSON document with a modules array: name, filename (null \
                 when built in), builtin, fields (key and value, in the order of the text \
                 output) and parameters (name, type, description). -F and its shorthands keep \
                 only that field. Errors go to stderr as usual.",
            ],
        )],
        "modprobe" => vec![(
            "MODUTILS VIEWS",
            &[
                "With --show-depends, --tree prints the modules a load would pull in as a \
                 tree: each module with the modules it needs directly beneath it, soft \
                 dependencies marked (softdep pre) or (softdep post), built-in modules marked \
                 (builtin).",
                "With --show-depends, --json prints what the load would do as one JSON \
                 document: for each module asked for, its actions (insmod with path and \
                 options, install with the configured command, builtin). The schema is \
                 docs/json.md in the modutils sources.",
                "$ modprobe -D --tree bttv",
            ],
        )],
        "depmod" => vec![(
            "CACHE",
            &[
                "depmod keeps what it reads from each module file in \
                 /var/cache/modutils/RELEASE.depmod and the data file it names, \
                 RELEASE.depmod.ID (under the -o or -b prefix), and reads a \
                 module again only when its path, device, inode, size, mtime or ctime changed. \
                 It keeps each module directory's listing too, and walks a directory whose \
                 identity is unchanged without listing it again. When nothing changed, or the modules read again hold the same symbols, \
                 aliases and dependencies as before, the outputs already in place are left as \
                 they are. The outputs and messages are the same with and without the cache.",
                "-n reads the cache but does not write it; runs on named module files read it \
                 and leave it. A cache that is damaged, for another release or version, or \
                 writable by others is ignored. --no-cache, or MODUTILS_NO_CACHE set to a \
                 non-empty value, reads every module and leaves the cache alone.",
            ],
        )],
        "rmmod" => vec![(
            "MODUTILS",
            &[
                "-a, --all removes every module that nothing uses, repeatedly, until none is \
               left (the autoclean of the first module tools). kmod's rmmod has no -a.",
            ],
        )],
        _ => vec![],
    };
    let mut all = own;
    all.push(ENVIRONMENT);
    all.push(COMPATIBILITY);
    all.push(("EXIT STATUS", &["0 on success, 1 on any failure, as kmod."]));
    all.push((
        "SEE ALSO",
        &[
            "kmod(8), insmod(8), rmmod(8), lsmod(8), modprobe(8), depmod(8), modinfo(8), \
           modprobe.d(5), depmod.d(5)",
        ],
    ));
    all
}

/// The page for one program: its name and the roff text.
pub fn page(cmd: clap::Command) -> Result<(String, Vec<u8>), String> {
    let name = cmd.get_name().to_string();
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .manual("System Administration")
        .source(format!("modutils {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    let err = |e: std::io::Error| format!("rendering {name}.8: {e}");
    man.render_title(&mut out).map_err(err)?;
    man.render_name_section(&mut out).map_err(err)?;
    man.render_synopsis_section(&mut out).map_err(err)?;
    man.render_description_section(&mut out).map_err(err)?;
    man.render_options_section(&mut out).map_err(err)?;
    if name == "kmod" {
        man.render_subcommands_section(&mut out).map_err(err)?;
    }
    let mut roff = Roff::new();
    for (title, paragraphs) in sections(&name) {
        roff.control("SH", [title]);
        for p in paragraphs {
            match p.strip_prefix("$ ") {
                Some(example) => {
                    roff.control("PP", []);
                    roff.control("RS", ["4"]);
                    roff.text([bold(example.to_string())]);
                    roff.control("RE", []);
                }
                None => {
                    roff.control("PP", []);
                    roff.text(inlines(p));
                }
            }
        }
    }
    roff.to_writer(&mut out).map_err(err)?;
    Ok((name, out))
}

/// Option names (words starting with `-`) in bold, the rest roman.
fn inlines(text: &str) -> Vec<Inline> {
    let mut v = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            v.push(roman(" "));
        }
        let bare = word.trim_end_matches([',', '.', ')', ';', ':']);
        let tail = &word[bare.len()..];
        if bare.starts_with('-') && bare.len() > 1 {
            v.push(bold(bare.to_string()));
            v.push(roman(tail.to_string()));
        } else if bare.ends_with("(8)") || bare.ends_with("(5)") {
            v.push(italic(bare.to_string()));
            v.push(roman(tail.to_string()));
        } else {
            v.push(roman(word.to_string()));
        }
    }
    v
}
