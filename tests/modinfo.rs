//! modinfo against kmod's modinfo on every module of a real Debian kernel.

use std::collections::BTreeSet;
use std::ffi::OsString;

use crate::util::{both, real_tree, text};

/// Splits modinfo output into one block per module: each starts at its
/// `filename:` line, or at the `name:` line just before a built-in's.
fn blocks(out: &str) -> Vec<String> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in out.split_inclusive('\n') {
        if line.starts_with("filename:") || blocks.is_empty() {
            let mut block = Vec::new();
            if line.contains("(builtin)") {
                if let Some(prev) = blocks.last_mut() {
                    if prev.last().is_some_and(|l| l.starts_with("name:")) {
                        block.push(prev.pop().unwrap());
                    }
                }
            }
            blocks.push(block);
        }
        blocks.last_mut().unwrap().push(line);
    }
    blocks
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| b.concat())
        .collect()
}

/// Runs both tools with `args` and asserts identical stdout, stderr and
/// exit status, reporting the first differing modules.
fn assert_same(args: &[OsString], what: &str) -> usize {
    let (kmod, ours) = both("modinfo", args);
    let (k, o) = (text(&kmod.stdout), text(&ours.stdout));
    if k != o {
        let (kb, ob) = (blocks(&k), blocks(&o));
        let diffs: Vec<String> = kb
            .iter()
            .zip(ob.iter())
            .filter(|(a, b)| a != b)
            .take(3)
            .map(|(a, b)| format!("--- kmod\n{a}--- ours\n{b}"))
            .collect();
        panic!(
            "{what}: stdout differs ({} vs {} blocks, {} differ); first:\n{}",
            kb.len(),
            ob.len(),
            kb.iter().zip(ob.iter()).filter(|(a, b)| a != b).count(),
            diffs.join("\n")
        );
    }
    assert_eq!(
        text(&kmod.stderr),
        text(&ours.stderr),
        "{what}: stderr differs"
    );
    assert_eq!(
        kmod.status.code(),
        ours.status.code(),
        "{what}: exit status differs"
    );
    blocks(&k).len()
}

fn module_args(prefix: &[&str]) -> Vec<OsString> {
    let tree = real_tree();
    prefix
        .iter()
        .map(OsString::from)
        .chain(tree.modules().iter().map(|p| p.clone().into_os_string()))
        .collect()
}

#[test]
fn every_module_file_is_shown_identically() {
    let n = assert_same(&module_args(&[]), "modinfo FILE...");
    assert_eq!(n, real_tree().modules().len());
    eprintln!("modinfo: {n}/{n} modules identical");
}

#[test]
fn null_separated_output_is_identical() {
    assert_same(&module_args(&["-0"]), "modinfo -0 FILE...");
}

#[test]
fn every_field_of_the_tree_is_shown_identically() {
    let (kmod, _) = both("modinfo", module_args(&[]));
    let mut fields: BTreeSet<String> = ["filename", "name", "parm", "parmtype", "nonexistent"]
        .map(String::from)
        .into();
    for line in text(&kmod.stdout).lines() {
        if let Some((key, _)) = line.split_once(':') {
            if !key.is_empty() && !key.starts_with('\t') && !key.contains(' ') {
                fields.insert(key.to_string());
            }
        }
    }
    assert!(fields.len() > 20, "too few fields found: {fields:?}");
    for field in &fields {
        assert_same(&module_args(&["-F", field]), &format!("modinfo -F {field}"));
    }
    for short in ["-a", "-d", "-l", "-p", "-n"] {
        assert_same(&module_args(&[short]), &format!("modinfo {short}"));
    }
    eprintln!(
        "modinfo -F: {} fields identical over every module",
        fields.len()
    );
}

fn tree_args(extra: &[&str], names: impl IntoIterator<Item = String>) -> Vec<OsString> {
    let tree = real_tree();
    let mut args: Vec<OsString> = vec![
        "-b".into(),
        tree.base.clone().into(),
        "-k".into(),
        tree.release.clone().into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    args.extend(names.into_iter().map(OsString::from));
    args
}

fn read_lines(file: &str) -> Vec<String> {
    let path = real_tree().moddir().join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}

/// Every module named in modules.dep, looked up by name (also with `-m`).
#[test]
fn lookup_by_module_name_is_identical() {
    let names: Vec<String> = read_lines("modules.dep")
        .iter()
        .map(|l| {
            let path = l.split(':').next().unwrap();
            let base = path.rsplit('/').next().unwrap();
            base.split('.').next().unwrap().replace('-', "_")
        })
        .collect();
    let n = assert_same(&tree_args(&[], names.clone()), "modinfo NAME...");
    assert_same(&tree_args(&["-m"], names.clone()), "modinfo -m NAME...");
    // Names with dashes resolve too.
    let dashed: Vec<String> = names
        .iter()
        .filter(|n| n.contains('_'))
        .map(|n| n.replace('_', "-"))
        .collect();
    assert_same(&tree_args(&[], dashed), "modinfo dashed-name...");
    eprintln!("modinfo by name: {n} modules identical");
}

/// Every alias pattern of modules.alias given as the argument.
#[test]
fn lookup_by_alias_is_identical() {
    let aliases: BTreeSet<String> = read_lines("modules.alias")
        .iter()
        .filter_map(|l| {
            l.strip_prefix("alias ")
                .and_then(|r| r.rsplit_once(' '))
                .map(|(a, _)| a.to_string())
        })
        .collect();
    assert!(aliases.len() > 10_000);
    assert_same(
        &tree_args(&["-F", "name"], aliases.iter().cloned()),
        "modinfo -F name ALIAS...",
    );
    let sample: Vec<String> = aliases.iter().step_by(50).cloned().collect();
    let n = assert_same(&tree_args(&[], sample.clone()), "modinfo ALIAS...");
    eprintln!("modinfo by alias: {} aliases resolved identically (-F name); {} of them shown in full, {n} modules", aliases.len(), sample.len());
}

/// Built-in modules, by name and by built-in alias, with and without `-m`.
#[test]
fn builtin_modules_are_shown_identically() {
    let names: Vec<String> = read_lines("modules.builtin")
        .iter()
        .map(|l| {
            l.rsplit('/')
                .next()
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .replace('-', "_")
        })
        .collect();
    assert!(names.len() > 100);
    let n = assert_same(&tree_args(&[], names.clone()), "modinfo BUILTIN...");
    assert_same(&tree_args(&["-m"], names.clone()), "modinfo -m BUILTIN...");
    assert_same(
        &tree_args(&["-F", "name"], names.clone()),
        "modinfo -F name BUILTIN...",
    );
    assert_same(&tree_args(&["-n"], names), "modinfo -n BUILTIN...");
    eprintln!("modinfo built-in: {n} modules identical");
}

#[test]
fn errors_and_exit_codes_are_identical() {
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["no_such_module"],
        vec!["-m", "no_such_module"],
        vec!["/nonexistent/file.ko"],
        vec!["bttv", "no_such_module", "ext4"],
        vec!["-F"],
        vec!["--fiel=name", "bttv"],
        vec!["--bogus"],
        vec!["-x"],
        vec!["bad[alias"],
    ];
    for case in cases {
        let args = tree_args(&[], case.iter().map(|s| s.to_string()));
        assert_same(&args, &format!("modinfo {}", case.join(" ")));
    }
}

/// Writes a small relocatable module for another architecture: 32/64-bit,
/// little/big-endian, with .modinfo, __versions, exports and imports.
fn foreign_module(arch: object::Architecture, endian: object::Endianness) -> Vec<u8> {
    use object::write::{Object, StandardSegment, Symbol, SymbolSection};
    use object::{BinaryFormat, SectionKind, SymbolFlags, SymbolKind, SymbolScope};

    let mut obj = Object::new(BinaryFormat::Elf, arch, endian);
    let is_64 = arch.address_size().is_some_and(|s| s.bytes() == 8);
    let big = endian == object::Endianness::Big;
    let seg = obj.segment_name(StandardSegment::Data).to_vec();
    let modinfo = obj.add_section(seg.clone(), b".modinfo".to_vec(), SectionKind::ReadOnlyData);
    obj.append_section_data(
        modinfo,
        b"license=GPL\0alias=foreign:*\0parm=level:How loud\0parmtype=level:int\0noequals\0name=foreign\0",
        1,
    );
    let versions = obj.add_section(
        seg.clone(),
        b"__versions".to_vec(),
        SectionKind::ReadOnlyData,
    );
    let mut recs = Vec::new();
    for (crc, name) in [(0x1234_5678u64, "module_layout"), (0x9abc_def0, "printk")] {
        let mut rec = if is_64 {
            if big {
                crc.to_be_bytes().to_vec()
            } else {
                crc.to_le_bytes().to_vec()
            }
        } else if big {
            (crc as u32).to_be_bytes().to_vec()
        } else {
            (crc as u32).to_le_bytes().to_vec()
        };
        rec.extend_from_slice(name.as_bytes());
        rec.resize(64, 0);
        recs.extend(rec);
    }
    obj.append_section_data(versions, &recs, 8);
    let strings = obj.add_section(
        seg,
        b"__ksymtab_strings".to_vec(),
        SectionKind::ReadOnlyData,
    );
    obj.append_section_data(strings, b"foreign_fn\0", 1);
    let sym = |name: &str, section, weak| Symbol {
        name: name.as_bytes().to_vec(),
        value: 0xcafe,
        size: 0,
        kind: SymbolKind::Data,
        scope: SymbolScope::Linkage,
        weak,
        section,
        flags: SymbolFlags::None,
    };
    obj.add_symbol(sym("__crc_foreign_fn", SymbolSection::Absolute, false));
    obj.add_symbol(sym("printk", SymbolSection::Undefined, false));
    obj.add_symbol(sym("maybe_there", SymbolSection::Undefined, true));
    obj.write().unwrap()
}

#[test]
fn foreign_classes_and_byte_orders_match_kmod() {
    use object::{Architecture, Endianness};
    let dir = tempfile::tempdir().unwrap();
    let kinds = [
        ("x86_64", Architecture::X86_64, Endianness::Little),
        ("i386", Architecture::I386, Endianness::Little),
        ("ppc64", Architecture::PowerPc64, Endianness::Big),
        ("ppc", Architecture::PowerPc, Endianness::Big),
    ];
    let mut args: Vec<OsString> = Vec::new();
    for (name, arch, endian) in kinds {
        let path = dir.path().join(format!("foreign_{name}.ko"));
        let bytes = foreign_module(arch, endian);
        std::fs::write(&path, &bytes).unwrap();
        let elf = modutils_core::elf::Elf::parse(&bytes).unwrap();
        let versions: Vec<_> = elf
            .modversions()
            .unwrap()
            .into_iter()
            .map(|v| (v.crc, v.name))
            .collect();
        assert_eq!(
            versions,
            [
                (0x1234_5678, &b"module_layout"[..]),
                (0x9abc_def0, &b"printk"[..])
            ],
            "{name}"
        );
        let exports: Vec<_> = elf
            .exports()
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.crc))
            .collect();
        assert_eq!(exports, [(&b"foreign_fn"[..], 0xcafe)], "{name}");
        let imports: Vec<_> = elf
            .imports()
            .unwrap()
            .into_iter()
            .map(|i| (i.name, i.crc, i.weak))
            .collect();
        assert!(
            imports.contains(&(&b"printk"[..], 0x9abc_def0, false)),
            "{name}: {imports:?}"
        );
        assert!(
            imports.contains(&(&b"maybe_there"[..], 0, true)),
            "{name}: {imports:?}"
        );
        assert_eq!(
            imports.last(),
            Some(&(&b"module_layout"[..], 0x1234_5678, false)),
            "{name}"
        );
        args.push(path.into_os_string());
    }
    assert_same(&args, "modinfo on foreign ELF classes");
    let mut field = vec![OsString::from("-F"), OsString::from("parm")];
    field.extend(args.iter().cloned());
    assert_same(&field, "modinfo -F parm on foreign ELF classes");
}

/// Modules compressed with xz and zstd show the same fields as kmod shows
/// (Debian's kmod 30 has no zlib, so gzip is checked against the
/// uncompressed file instead).
#[test]
fn compressed_modules_match() {
    let dir = tempfile::tempdir().unwrap();
    let sources: Vec<_> = real_tree().modules().iter().step_by(200).collect();
    let mut packed: Vec<OsString> = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        for (tool, ext) in [("xz", "xz"), ("zstd", "zst")] {
            let out = std::process::Command::new(tool)
                .arg("-c")
                .arg(src)
                .output()
                .unwrap();
            assert!(out.status.success(), "{tool} failed");
            let path = dir.path().join(format!("m{i}.ko.{ext}"));
            std::fs::write(&path, out.stdout).unwrap();
            packed.push(path.into_os_string());
        }
        let gz = std::process::Command::new("gzip")
            .arg("-c")
            .arg(src)
            .output()
            .unwrap();
        let gz_path = dir.path().join(format!("g{i}.ko.gz"));
        let plain_path = dir.path().join(format!("g{i}.ko"));
        std::fs::write(&gz_path, gz.stdout).unwrap();
        std::fs::copy(src, &plain_path).unwrap();
        let ours = |p: &std::path::Path| {
            text(&crate::util::run(&crate::util::ours("modinfo"), [p]).stdout)
        };
        let (a, b) = (ours(&gz_path), ours(&plain_path));
        assert_eq!(
            a.replacen(".ko.gz", ".ko", 1),
            b,
            "gzip-compressed {}",
            src.display()
        );
    }
    let n = assert_same(&packed, "modinfo on .ko.xz/.ko.zst");
    assert_eq!(n, packed.len());
}

/// A relative path is taken from the working directory. Under
/// `MODUTILS_SYSROOT` with the working directory inside the root, ours
/// shows the file as the target system names it; everything else is kmod's
/// output for the same file, run without a root.
#[test]
fn relative_paths_under_a_relocated_root() {
    use std::process::Command;
    let module = real_tree()
        .modules()
        .iter()
        .find(|p| p.ends_with("kernel/drivers/net/dummy.ko"))
        .expect("dummy.ko in the tree");
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::copy(module, work.join("dummy.ko")).unwrap();
    let kmod = Command::new(crate::util::oracle("modinfo"))
        .arg("./dummy.ko")
        .current_dir(&work)
        .output()
        .unwrap();
    let ours = Command::new(crate::util::ours("modinfo"))
        .arg("./dummy.ko")
        .current_dir(&work)
        .env("MODUTILS_SYSROOT", root.path())
        .output()
        .unwrap();
    let expected = text(&kmod.stdout).replacen(
        &format!("{}/./dummy.ko", work.display()),
        "/work/./dummy.ko",
        1,
    );
    assert!(
        expected.starts_with("filename:       /work/./dummy.ko\n"),
        "{expected}"
    );
    assert_eq!(text(&ours.stdout), expected, "{}", text(&ours.stderr));
    assert_eq!(ours.status.code(), Some(0));
}
