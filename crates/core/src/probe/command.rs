//! Install and remove commands.

/// The variable an install command may use for the module's options.
pub const CMDLINE_OPTS: &[u8] = b"$CMDLINE_OPTS";

/// kmod rescans from the start after each replacement, so options that
/// contain `$CMDLINE_OPTS` themselves would make it loop forever; no real
/// command has anywhere near this many.
const MAX_REPLACEMENTS: usize = 1024;

/// Replaces every `$CMDLINE_OPTS` in `command` with `options`, rescanning
/// from the start after each replacement as kmod does (so an occurrence
/// formed across a replacement's edge is replaced too).
pub fn expand_cmdline_opts(command: &[u8], options: &[u8]) -> Vec<u8> {
    let mut cmd = command.to_vec();
    for _ in 0..MAX_REPLACEMENTS {
        let Some(at) = find(&cmd, CMDLINE_OPTS) else {
            break;
        };
        cmd.splice(at..at + CMDLINE_OPTS.len(), options.iter().copied());
    }
    cmd
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::expand_cmdline_opts;

    #[test]
    fn every_occurrence_is_replaced() {
        assert_eq!(
            expand_cmdline_opts(b"a $CMDLINE_OPTS b $CMDLINE_OPTS", b"x=1"),
            b"a x=1 b x=1"
        );
        assert_eq!(expand_cmdline_opts(b"$CMDLINE_OPTSX", b""), b"X");
        assert_eq!(expand_cmdline_opts(b"none", b"x"), b"none");
        assert_eq!(expand_cmdline_opts(b"$CMD$CMDLINE_OPTSLINE_OPTS", b""), b"");
    }

    #[test]
    fn self_referencing_options_stop() {
        let out = expand_cmdline_opts(b"$CMDLINE_OPTS", b"<$CMDLINE_OPTS>");
        assert_eq!(out.len(), 1024 * 2 + 13);
    }
}
