//! Shell completions: clap_complete's scripts complete the options (from
//! the tools' option tables); for the tools that take module names, a few
//! lines added here ask the installed `kmod __complete TOOL WORD...` for
//! them (kmod(8), SHELL COMPLETION): the modules of the module directory,
//! or the loaded ones for rmmod and modprobe -r.

use std::path::Path;

use clap_complete::{generate, Shell};

pub struct Scripts {
    pub bash: Vec<u8>,
    pub zsh: Vec<u8>,
    pub fish: Vec<u8>,
}

/// The tools whose operands are module names.
const MODULE_TOOLS: [&str; 3] = ["modprobe", "modinfo", "rmmod"];

/// Completion scripts for `cmd`; `kmod` is the installed multicall binary
/// (its path on the installed system), which the scripts call.
pub fn scripts(cmd: clap::Command, kmod: &Path) -> Scripts {
    let name = cmd.get_name().to_string();
    let gen = |shell: Shell| {
        let mut c = cmd.clone();
        let mut out = Vec::new();
        generate(shell, &mut c, name.clone(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let (mut bash, mut zsh, mut fish) = (gen(Shell::Bash), gen(Shell::Zsh), gen(Shell::Fish));
    if MODULE_TOOLS.contains(&name.as_str()) {
        let kmod = shell_quote(&kmod.to_string_lossy());
        bash += &bash_modules(&name, &kmod, &value_options(&cmd));
        zsh = zsh_modules(&zsh, &name, &kmod);
        fish += &fish_modules(&name, &kmod);
    }
    Scripts {
        bash: bash.into_bytes(),
        zsh: zsh.into_bytes(),
        fish: fish.into_bytes(),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `-x` and `--long` of every option that takes a value: after those the
/// word is the option's value, not a module.
fn value_options(cmd: &clap::Command) -> Vec<String> {
    let mut v = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        if !arg.get_action().takes_values() {
            continue;
        }
        if let Some(s) = arg.get_short() {
            v.push(format!("-{s}"));
        }
        for l in arg.get_long_and_visible_aliases().into_iter().flatten() {
            v.push(format!("--{l}"));
        }
    }
    v
}

fn bash_modules(tool: &str, kmod: &str, value_opts: &[String]) -> String {
    let values = if value_opts.is_empty() {
        String::new()
    } else {
        format!(
            "    case $prev in\n        {}) _{tool} \"$@\"; return ;;\n    esac\n",
            value_opts.join("|")
        )
    };
    format!(
        r#"
# modutils: module names from the module directory (or the loaded ones).
_modutils_{tool}() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=
    [[ $COMP_CWORD -gt 0 ]] && prev=${{COMP_WORDS[COMP_CWORD-1]}}
{values}    if [[ $cur != -* ]]; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$({kmod} __complete {tool} "${{COMP_WORDS[@]:1:COMP_CWORD-1}}" 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _{tool} "$@"
}}
complete -F _modutils_{tool} -o bashdefault -o default {tool}
"#
    )
}

/// The positional arguments get their names from kmod instead of files.
fn zsh_modules(script: &str, tool: &str, kmod: &str) -> String {
    let func = format!("_modutils_modules_{tool}");
    let mut out = String::new();
    for line in script.lines() {
        let positional = ["'::module", "'*::module", "'*::params"]
            .iter()
            .any(|p| line.starts_with(p));
        match line.strip_suffix(":_default' \\") {
            Some(head) if positional => out += &format!("{head}:{func}' \\"),
            _ => out += line,
        }
        out.push('\n');
    }
    let helper = format!(
        r#"
# modutils: module names from the module directory (or the loaded ones).
(( $+functions[{func}] )) ||
{func}() {{
    local -a names
    names=(${{(f)"$({kmod} __complete {tool} ${{words[2,CURRENT-1]}} 2>/dev/null)"}})
    _wanted modules expl module compadd -a names
}}
"#
    );
    // Before the dispatch at the end, so that the helper exists when the
    // completion function first runs.
    match out.rfind("\nif [ \"$funcstack[1]\"") {
        Some(at) => {
            out.insert_str(at + 1, &helper);
            out
        }
        None => out + &helper,
    }
}

fn fish_modules(tool: &str, kmod: &str) -> String {
    format!(
        "\n# modutils: module names from the module directory (or the loaded ones).\n\
         complete -c {tool} -n 'not string match -q -- \"-*\" (commandline -ct)' \
         -a \"({kmod} __complete {tool} (commandline -opc)[2..-1])\"\n"
    )
}
