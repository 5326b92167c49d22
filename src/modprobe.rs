//! `modprobe`: load or remove modules with their dependencies, or show
//! what that would do. The decisions are made by `modutils_core::probe`;
//! this file turns the command line into requests and the results into
//! kmod's messages and exit codes (0 or 1).

mod args;
mod options;
mod out;
mod views;

use std::ffi::{OsStr, OsString};
use std::mem::ManuallyDrop;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use modutils_core::autoclean::{self, Recorder};
use modutils_core::config::modprobe::{KernelCmdline, LoadOptions};
use modutils_core::config::{strerror, Level, ModprobeConfig};
use modutils_core::context::{Context, IndexKind};
use modutils_core::kernel;
use modutils_core::module_file::ModuleFile;
use modutils_core::probe::{
    kernel_compression, system_from_env, BlacklistMode, Engine, Force, ModId, ProbeOptions,
    RemoveOptions, Report,
};
use modutils_core::Root;

pub use options::options;

/// What `kmod` knows of modprobe.
pub const TOOL: crate::cli::Tool = crate::cli::Tool {
    name: "modprobe",
    main,
    options: options::erased_options,
    help_text: options::help_text,
};
use args::{Parsed, Settings, LOG_WARNING};
use out::{fatal, Frontend};

pub fn main(argv: Vec<OsString>) -> i32 {
    // Told from the command line as the kernel gives it, before
    // MODPROBE_OPTIONS or anything else is added.
    let kernel_request = autoclean::kernel_request(&Root::from_env(), &argv).is_some();
    let s = match args::parse(argv) {
        Parsed::Exit(code) => return code,
        Parsed::Run(s) => s,
    };
    if s.syslog || !stderr_usable() {
        crate::log::use_syslog();
    }
    if !s.show_config && s.operands.is_empty() {
        crate::error!("missing parameters. See -h.");
        return 1;
    }
    if let Some(why) = views::misuse(&s) {
        crate::error!("{why}");
        return 1;
    }
    let root = Root::from_env();
    let dirname = module_dir(&s, &root);
    // libkmod reads this when it creates its context, before the
    // configuration.
    let (compression, unknown) = kernel_compression(&root);
    if let Some(msg) = unknown {
        out::library_message(Level::Err, "get_kernel_compression", &msg);
    }
    let config_paths =
        (!s.config_paths.is_empty()).then(|| s.config_paths.iter().map(PathBuf::from).collect());
    let loaded = ModprobeConfig::load(&LoadOptions {
        root: &root,
        config_paths,
        module_dir: Some(dirname.clone()),
        kernel_cmdline: KernelCmdline::Proc,
    });
    out::config_diagnostics(&loaded.diagnostics);
    // From here on libkmod's messages go through modprobe's logger, at
    // the verbosity the options asked for.
    crate::log::set_threshold(s.verbose);
    // Never dropped: the process ends right after, and freeing the
    // configuration and what the lookups loaded costs more than some whole
    // runs.
    let ctx =
        ManuallyDrop::new(Context::new(root.clone(), Some(dirname)).with_config(loaded.config));

    let json = s.json.then(views::Collected::default);
    let ok = if s.show_config {
        show_config(&ctx)
    } else if s.show_modversions || s.show_exports {
        show_symbols(&ctx, &s)
    } else {
        let mut sys = system_from_env(&root, compression);
        let mut recorder = Recorder::new(sys.as_mut());
        let mut frontend = Frontend {
            show: (s.show && !s.tree && !s.json) || s.verbose > LOG_WARNING,
            all: s.all,
        };
        let mut json_report;
        let report: &mut dyn Report = match &json {
            Some(c) => {
                json_report = c.report(frontend);
                &mut json_report
            }
            None => &mut frontend,
        };
        let mut engine = Engine::new(&ctx, &mut recorder, report);
        let ok = if s.remove {
            remove_all(&mut engine, &s)
        } else if s.tree {
            let names = if s.all {
                &s.operands[..]
            } else {
                &s.operands[..1]
            };
            let mut ok = true;
            for arg in names {
                ok &= views::tree(&mut engine, &s, arg);
            }
            ok
        } else if s.all {
            let mut ok = true;
            for arg in &s.operands {
                ok &= insert(&mut engine, &s, arg, None, json.as_ref());
            }
            ok
        } else {
            // No parameters and an empty string make the same options.
            let params = kernel::join_params(&s.operands[1..]);
            insert(
                &mut engine,
                &s,
                &s.operands[0],
                Some(&params),
                json.as_ref(),
            )
        };
        if kernel_request {
            record_autoload(&root, &mut recorder);
        }
        ok
    };
    if let Some(json) = json {
        out::print(json.document().as_bytes());
    }
    out::flush();
    i32::from(!ok)
}

/// kmod falls back to syslog when stderr is closed.
fn stderr_usable() -> bool {
    // SAFETY: fstat on a descriptor number only fills the buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    unsafe { libc::fstat(2, &mut st) == 0 }
}

/// The module directory: `/lib/modules/<running kernel>`, or with `-d`/`-S`
/// `DIR/lib/modules/VERSION`, cut to kmod's PATH_MAX buffer.
fn module_dir(s: &Settings, root: &Root) -> PathBuf {
    let dir = root.module_dir(s.root.as_deref(), s.kversion.as_deref());
    if s.root.is_none() && s.kversion.is_none() {
        return dir;
    }
    let mut dir = dir.into_os_string().into_vec();
    dir.truncate(modutils_core::name::PATH_MAX - 1);
    PathBuf::from(OsString::from_vec(dir))
}

/// Records for autoclean what a load the kernel asked for inserted
/// (`rmmod -a` sweeps only those modules).
fn record_autoload(root: &Root, recorder: &mut Recorder) {
    let names = recorder.inserted().to_vec();
    if let Err(e) = autoclean::record(root, recorder, &names) {
        let names: Vec<_> = names.iter().map(|n| String::from_utf8_lossy(n)).collect();
        crate::error!("could not record {} for autoclean: {e}", names.join(", "));
    }
}

/// `modprobe -c`: the configuration, then the alias and symbol indexes.
fn show_config(ctx: &Context) -> bool {
    out::print(&ctx.config().show_config());
    for kind in [IndexKind::Alias, IndexKind::Symbols] {
        if let Some(Ok(dump)) = ctx.index(kind).map(|i| i.dump("alias ")) {
            out::print(&dump);
        }
    }
    true
}

/// `--show-modversions` / `--show-exports` of the file named first.
fn show_symbols(ctx: &Context, s: &Settings) -> bool {
    let arg = &s.operands[0];
    let shown = arg.as_bytes();
    let module = match ctx.module_from_path(Path::new(arg)) {
        Ok(m) if !m.name.is_empty() => m,
        _ => {
            fatal(s.all, &[b"Module ", shown, b" not found."].concat());
            return false;
        }
    };
    let what = if s.show_modversions {
        "modversions"
    } else {
        "symbols"
    };
    let path = module.path.unwrap_or_else(|| PathBuf::from(arg));
    let lines = ModuleFile::open(ctx.root().host(&path))
        .map_err(|e| e.errno())
        .and_then(|file| symbol_lines(&file, s.show_modversions));
    match lines {
        Ok(text) => {
            out::print(&text);
            true
        }
        Err(errno) => {
            let why = strerror(errno);
            let msg = [b"could not get ", what.as_bytes(), b" of ", shown, b": "];
            fatal(s.all, &[&msg.concat(), why.as_bytes()].concat());
            false
        }
    }
}

fn symbol_lines(file: &ModuleFile, versions: bool) -> Result<Vec<u8>, i32> {
    let mut text = Vec::new();
    // Names are printed as the bytes they are, as kmod prints them.
    for (crc, name) in file.symbol_crcs(versions)? {
        text.extend_from_slice(format!("0x{crc:08x}\t").as_bytes());
        text.extend_from_slice(&name);
        text.push(b'\n');
    }
    Ok(text)
}

fn probe_options(s: &Settings) -> ProbeOptions {
    ProbeOptions {
        ignore_loaded: s.ignore_loaded,
        fail_on_loaded: s.first_time,
        ignore_commands: s.ignore_commands,
        dry_run: s.dry_run,
        blacklist: if s.use_blacklist {
            BlacklistMode::Always
        } else {
            BlacklistMode::AliasOnly
        },
        force: Force {
            modversion: s.force || s.force_modversion,
            vermagic: s.force || s.force_vermagic,
        },
    }
}

/// The modules one argument names: a module file (`/…` or `./…`), or a
/// name or alias; `None` after reporting that there is none.
fn resolve(engine: &mut Engine, s: &Settings, arg: &OsStr) -> Option<Vec<ModId>> {
    let bytes = arg.as_bytes();
    if bytes.starts_with(b"/") || bytes.starts_with(b"./") {
        match engine.from_path(Path::new(arg)) {
            Ok(id) => Some(vec![id]),
            Err(e) => {
                let why = strerror(e.raw_os_error().unwrap_or(libc::ENOENT));
                let msg = [
                    b"Failed to get module from path ",
                    bytes,
                    b": ",
                    why.as_bytes(),
                ];
                fatal(s.all, &msg.concat());
                None
            }
        }
    } else {
        match engine.lookup(bytes) {
            Ok(ids) if !ids.is_empty() => Some(ids),
            _ => {
                let dir = engine.context().dirname().as_os_str().as_bytes();
                let msg = [b"Module ", bytes, b" not found in directory ", dir];
                fatal(s.all, &msg.concat());
                None
            }
        }
    }
}

/// Loads one argument, every module it resolves to; the last one's result
/// counts, as in kmod. With `--json`, what each load would do is kept.
fn insert(
    engine: &mut Engine,
    s: &Settings,
    arg: &OsStr,
    params: Option<&[u8]>,
    json: Option<&views::Collected>,
) -> bool {
    let Some(ids) = resolve(engine, s, arg) else {
        return false;
    };
    let opts = probe_options(s);
    let mut ok = true;
    for id in ids {
        ok = insert_one(engine, s, id, &opts, params, arg, json);
    }
    ok
}

fn insert_one(
    engine: &mut Engine,
    s: &Settings,
    id: ModId,
    opts: &ProbeOptions,
    params: Option<&[u8]>,
    arg: &OsStr,
    json: Option<&views::Collected>,
) -> bool {
    if s.resolve_alias {
        out::print(&[engine.name(id), b"\n"].concat());
        return true;
    }
    let result = engine.probe(id, opts, params);
    if let (Some(json), Ok(probed)) = (json, result) {
        json.finish_load(arg, engine.name(id), probed);
    }
    let Err(errno) = result else {
        return true;
    };
    let why = match errno {
        libc::EEXIST => "Module already in kernel".to_string(),
        libc::ENOENT => "Unknown symbol in module, or unknown parameter (see dmesg)".to_string(),
        e => strerror(e),
    };
    let msg = [
        b"could not insert '",
        engine.name(id),
        b"': ",
        why.as_bytes(),
    ];
    crate::log::log_bytes(Level::Err, &msg.concat());
    false
}

/// `-r`: every argument is a module name or alias to remove.
fn remove_all(engine: &mut Engine, s: &Settings) -> bool {
    let opts = RemoveOptions {
        ignore_commands: s.ignore_commands,
        ignore_loaded: s.ignore_loaded,
        dry_run: s.dry_run,
        first_time: s.first_time,
        force: s.force,
        wait_msec: s.wait_msec,
        remove_holders: s.remove_holders,
    };
    let mut ok = true;
    for arg in &s.operands {
        let name = arg.as_bytes();
        // kmod fails without a word on a name it cannot normalise (`a[`);
        // we say it is not found, as loading says for the same name.
        let ids = engine.lookup(name).unwrap_or_default();
        if ids.is_empty() {
            fatal(s.all, &[b"Module ", name, b" not found."].concat());
            ok = false;
            continue;
        }
        for id in ids {
            if engine.remove(id, &opts).is_err() {
                ok = false;
                break;
            }
        }
    }
    ok
}
