//! The README's shell commands, run as a new user would paste them: every
//! line of every ```sh block, in order, one bash per block (so `eval` and
//! variables carry over), from the checkout's root. A command that fails
//! fails the test, so the README cannot drift from the tools again.

use std::path::Path;
use std::process::Command;

/// Commands that cannot run here, each with the reason.
const SKIPPED: &[(&str, &str)] = &[
    (
        "tests/vm/run demo",
        "boots Debian's kernels under QEMU for minutes; tests/run runs the VM suite itself",
    ),
    (
        "cargo xtask install --prefix /usr",
        "installs onto this very system",
    ),
    ("tests/run", "the whole suite, which runs this test"),
    (
        "LD_LIBRARY_PATH=$PWD/target/release lspci -k",
        "lists this machine's PCI devices, which a container may not have; the VM scenario 18-udevd compares lspci -k on both libraries",
    ),
    (
        "scripts/fuzz.sh -t 600",
        "fuzzes every target for 10 minutes; tests/run fuzzes each for 10 seconds",
    ),
    ("scripts/fuzz.sh -t 3600 index", "fuzzes for an hour"),
    (
        "sudo apt-get install dpkg-dev gcc pkg-config liblzma-dev libzstd-dev",
        "installs onto this very system; tests/debian-vm/run installs them itself",
    ),
    (
        "cargo xtask deb",
        "a fat-LTO build of its own; tests/debian-vm/run builds the package and boots it",
    ),
    (
        "sudo apt-get install ./target/debian/modutils_*.deb",
        "would swap this very system's kmod out; tests/debian-vm/run does it in a booted Debian",
    ),
];

/// Commands run from a scratch directory inside the workspace (cargo
/// finds the workspace from there) instead of the checkout's root, so
/// that what they write (`$PWD/pkg`) stays out of the checkout.
const IN_SCRATCH: &[&str] = &[r#"cargo xtask install --prefix /usr --destdir "$PWD/pkg""#];

struct Block {
    /// README line of the opening fence.
    line: usize,
    commands: Vec<String>,
}

/// The ```sh blocks, each line a command with its `# comment` cut off.
fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        match (&mut open, line.trim_end()) {
            (None, "```sh") => {
                open = Some(Block {
                    line: i + 1,
                    commands: Vec::new(),
                })
            }
            (Some(_), "```") => blocks.extend(open.take()),
            (Some(b), text) => {
                let command = text.split(" #").next().unwrap_or("").trim();
                if !command.is_empty() {
                    b.commands.push(command.to_string());
                }
            }
            (None, _) => {}
        }
    }
    assert!(open.is_none(), "README: a ```sh block is never closed");
    blocks
}

/// Single quotes for the shell.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn readme_commands_work_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    let all: Vec<&String> = blocks.iter().flat_map(|b| &b.commands).collect();
    for (command, _) in SKIPPED {
        assert!(
            all.iter().any(|c| c == command),
            "skip list names `{command}`, which the README no longer has"
        );
    }
    for command in IN_SCRATCH {
        assert!(all.iter().any(|c| c == command), "`{command}` is gone");
    }
    let scratch = tempfile::Builder::new()
        .prefix(".readme-test-")
        .tempdir_in(root)
        .unwrap();
    let mut ran = 0;
    for block in &blocks {
        let mut script = String::from("set -u\n");
        for command in &block.commands {
            if SKIPPED.iter().any(|(c, _)| c == command) {
                continue;
            }
            let dir = if IN_SCRATCH.contains(&command.as_str()) {
                scratch.path()
            } else {
                root
            };
            let dir = quoted(&dir.display().to_string());
            let shown = quoted(command);
            script += &format!(
                "cd {dir}\n{command} || {{ echo \"README command failed (exit $?): \"{shown} >&2; exit 1; }}\n"
            );
            ran += 1;
        }
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(root)
            .env_remove("MODUTILS_SYSROOT")
            .env_remove("MODUTILS_TEST_TREE")
            .env_remove("MODPROBE_OPTIONS")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README.md block at line {}:\n{}\n--- stdout\n{}--- stderr\n{}",
            block.line,
            block.commands.join("\n"),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // What the staged install promises: kmod in PREFIX/bin, the tools
    // linked in PREFIX/sbin.
    let staged = scratch.path().join("pkg/usr");
    assert!(staged.join("bin/kmod").is_file(), "{}", staged.display());
    assert!(
        staged.join("sbin/modprobe").exists(),
        "{}",
        staged.display()
    );
    assert!(ran >= 8, "only {ran} README commands ran");
}
