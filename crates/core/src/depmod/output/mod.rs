//! The output files' contents, in kmod's generation order: one [`Output`]
//! per file, each generated from the [`Model`] of the run.

mod builtin;
mod deps;
mod devname;
mod info;
mod model;
mod symbols;

use crate::depmod::report::Deferred;

pub use devname::node_of_alias;
pub(crate) use model::{Fatal, Model};

/// The output files, in the order kmod writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    Dep,
    DepBin,
    Alias,
    AliasBin,
    Softdep,
    Weakdep,
    Symbols,
    SymbolsBin,
    BuiltinBin,
    BuiltinAliasBin,
    Devname,
}

impl Output {
    /// Every output, in kmod's order.
    pub const ALL: [Output; 11] = [
        Output::Dep,
        Output::DepBin,
        Output::Alias,
        Output::AliasBin,
        Output::Softdep,
        Output::Weakdep,
        Output::Symbols,
        Output::SymbolsBin,
        Output::BuiltinBin,
        Output::BuiltinAliasBin,
        Output::Devname,
    ];

    /// Every output, the longest to make first (measured on Debian's
    /// trees: the two large indexes, then the rest), so that the threads
    /// making them finish together.
    pub const LONGEST_FIRST: [Output; 11] = [
        Output::AliasBin,
        Output::SymbolsBin,
        Output::DepBin,
        Output::Symbols,
        Output::Alias,
        Output::Dep,
        Output::Devname,
        Output::BuiltinBin,
        Output::BuiltinAliasBin,
        Output::Weakdep,
        Output::Softdep,
    ];

    /// The file's name in the output directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Output::Dep => "modules.dep",
            Output::DepBin => "modules.dep.bin",
            Output::Alias => "modules.alias",
            Output::AliasBin => "modules.alias.bin",
            Output::Softdep => "modules.softdep",
            Output::Weakdep => "modules.weakdep",
            Output::Symbols => "modules.symbols",
            Output::SymbolsBin => "modules.symbols.bin",
            Output::BuiltinBin => "modules.builtin.bin",
            Output::BuiltinAliasBin => "modules.builtin.alias.bin",
            Output::Devname => "modules.devname",
        }
    }

    /// Binary indexes, which `-n` leaves out.
    pub fn is_index(self) -> bool {
        matches!(
            self,
            Output::DepBin
                | Output::AliasBin
                | Output::SymbolsBin
                | Output::BuiltinBin
                | Output::BuiltinAliasBin
        )
    }

    /// The file's contents; messages go to `log`, to be replayed when the
    /// file is written.
    pub fn generate(self, model: &Model<'_>, log: &mut Deferred) -> Result<Vec<u8>, Fatal> {
        match self {
            Output::Dep => Ok(deps::deps_text(model)),
            Output::DepBin => deps::deps_bin(model),
            Output::Alias => Ok(info::info_text(
                model,
                b"# Aliases extracted from modules themselves.\n",
                b"alias ",
                |p| &p.aliases,
                false,
            )),
            Output::AliasBin => info::aliases_bin(model, log),
            Output::Softdep => Ok(info::info_text(
                model,
                b"# Soft dependencies extracted from modules themselves.\n",
                b"softdep ",
                |p| &p.softdeps,
                true,
            )),
            Output::Weakdep => Ok(info::info_text(
                model,
                b"# Weak dependencies extracted from modules themselves.\n",
                b"weakdep ",
                |p| &p.weakdeps,
                true,
            )),
            Output::Symbols => Ok(symbols::symbols_text(model)),
            Output::SymbolsBin => symbols::symbols_bin(model),
            Output::BuiltinBin => builtin::builtin_bin(model, log),
            Output::BuiltinAliasBin => builtin::builtin_alias_bin(model, log),
            Output::Devname => Ok(devname::devname(model, log)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn longest_first_lists_every_output_once() {
        // The outputs are made in this order and put in place in ALL's: one
        // missing here would never be written.
        let mut made: Vec<&str> = Output::LONGEST_FIRST
            .iter()
            .map(|o| o.file_name())
            .collect();
        let mut all: Vec<&str> = Output::ALL.iter().map(|o| o.file_name()).collect();
        made.sort_unstable();
        all.sort_unstable();
        assert_eq!(made, all);
        made.dedup();
        assert_eq!(made.len(), Output::ALL.len());
    }
}
