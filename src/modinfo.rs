//! `modinfo`: show the information recorded in modules.

use std::ffi::OsString;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use modutils_core::context::{Context, Module};
use modutils_core::modinfo::{self, Field};
use modutils_core::module_file::{self, ModuleFile};
use modutils_core::Root;

use crate::cli::{self, Opt};
use crate::error;
use crate::json::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Author,
    Description,
    License,
    Parameters,
    Filename,
    Null,
    Modname,
    Field,
    SetVersion,
    Basedir,
    Version,
    Help,
    Json,
}

const OPTIONS: &[Opt<Id>] = &[
    Opt::flag(
        Id::Author,
        Some('a'),
        &["author"],
        "Show only the 'author' field",
    ),
    Opt::flag(
        Id::Description,
        Some('d'),
        &["description"],
        "Show only the 'description' field",
    ),
    Opt::flag(
        Id::License,
        Some('l'),
        &["license"],
        "Show only the 'license' field",
    ),
    Opt::flag(
        Id::Parameters,
        Some('p'),
        &["parameters"],
        "Show only the parameters ('parm')",
    ),
    Opt::flag(
        Id::Filename,
        Some('n'),
        &["filename"],
        "Show only the file name",
    ),
    Opt::flag(
        Id::Null,
        Some('0'),
        &["null"],
        "End each value with a NUL byte, not a newline",
    ),
    Opt::flag(
        Id::Modname,
        Some('m'),
        &["modname"],
        "Take every argument as a module name (not an alias or file)",
    ),
    Opt::value(
        Id::Field,
        Some('F'),
        &["field"],
        "FIELD",
        "Show only the values of FIELD",
    ),
    Opt::value(
        Id::SetVersion,
        Some('k'),
        &["set-version"],
        "VERSION",
        "Look in the module directory of kernel VERSION",
    ),
    Opt::value(
        Id::Basedir,
        Some('b'),
        &["basedir"],
        "DIR",
        "Take DIR as the root of the module directory",
    ),
    Opt::flag(
        Id::Version,
        Some('V'),
        &["version"],
        "Print the version and exit",
    ),
    Opt::flag(Id::Help, Some('h'), &["help"], "Print this help and exit"),
    Opt::flag(
        Id::Json,
        None,
        &["json"],
        "Print the modules as JSON (schema: docs/json.md)",
    )
    .extension(),
];

pub fn options() -> &'static [Opt<impl Copy + PartialEq + std::fmt::Debug>] {
    OPTIONS
}

/// What `kmod` knows of modinfo.
pub const TOOL: cli::Tool = cli::Tool {
    name: "modinfo",
    main,
    options: || cli::erase(OPTIONS),
    help_text: |prog| cli::help_text(prog, &["[options] <modulename|filename> [args]"], OPTIONS),
};

struct Settings {
    field: Option<Vec<u8>>,
    separator: u8,
    /// `--json`: the modules shown so far, printed as one document at the end.
    json: Option<std::cell::RefCell<Vec<Json>>>,
}

pub fn main(args: Vec<OsString>) -> i32 {
    let Some(parsed) = cli::parse_or_report(OPTIONS, args, false) else {
        return 1;
    };
    let mut settings = Settings {
        field: None,
        separator: b'\n',
        json: None,
    };
    let (mut by_name, mut version, mut basedir) = (false, None, None);
    for (id, value) in parsed.opts {
        let set_field = |s: &mut Settings, f: &str| s.field = Some(f.as_bytes().to_vec());
        match id {
            Id::Author => set_field(&mut settings, "author"),
            Id::Description => set_field(&mut settings, "description"),
            Id::License => set_field(&mut settings, "license"),
            Id::Parameters => set_field(&mut settings, "parm"),
            Id::Filename => set_field(&mut settings, "filename"),
            Id::Field => settings.field = value.map(|v| v.as_bytes().to_vec()),
            Id::Null => settings.separator = 0,
            Id::Modname => by_name = true,
            Id::Json => settings.json = Some(Default::default()),
            Id::SetVersion => version = value,
            Id::Basedir => basedir = value,
            Id::Version => return cli::version(),
            Id::Help => return TOOL.help(),
        }
    }
    if parsed.operands.is_empty() {
        error!("missing module or filename.");
        return 1;
    }

    let root = Root::from_env();
    let dirname = (basedir.is_some() || version.is_some())
        .then(|| root.module_dir(basedir.as_deref(), version.as_deref()));
    // Never dropped: the process ends right after, and freeing what the
    // lookups loaded costs more than some whole runs.
    let ctx = ManuallyDrop::new(Context::new(root, dirname));

    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut failed = false;
    for arg in &parsed.operands {
        let ok = if by_name {
            by_module_name(&ctx, &settings, &mut out, arg)
        } else if is_module_filename(&ctx, arg) {
            by_path(&ctx, &settings, &mut out, arg)
        } else {
            by_alias(&ctx, &settings, &mut out, arg)
        };
        failed |= !ok;
    }
    if let Some(docs) = &settings.json {
        let doc = Json::Obj(vec![("modules", Json::Arr(docs.take()))]);
        let _ = out.write_all(doc.to_text().as_bytes());
    }
    if out.flush().is_err() {
        return 1;
    }
    i32::from(failed)
}

/// An argument is a file only if it exists as a regular file and is named
/// like a module; everything else is looked up by name or alias.
fn is_module_filename(ctx: &Context, arg: &OsString) -> bool {
    module_file::is_module_path(ctx.root(), Path::new(arg))
}

fn by_path(ctx: &Context, s: &Settings, out: &mut impl Write, arg: &OsString) -> bool {
    match ctx.module_from_path(Path::new(arg)) {
        Ok(module) => show(ctx, s, out, &module),
        Err(_) => {
            error!("Module file {} not found.", arg.to_string_lossy());
            false
        }
    }
}

fn by_module_name(ctx: &Context, s: &Settings, out: &mut impl Write, arg: &OsString) -> bool {
    let name = arg.as_bytes();
    match ctx.lookup_name(name) {
        Ok(Some(module)) => show(ctx, s, out, &module),
        _ => {
            crate::log::log_bytes(
                crate::log::Level::Err,
                &[b"Module name ", name, b" not found."].concat(),
            );
            false
        }
    }
}

fn by_alias(ctx: &Context, s: &Settings, out: &mut impl Write, arg: &OsString) -> bool {
    let alias = arg.as_bytes();
    let modules = match ctx.lookup(alias) {
        Ok(m) => m,
        Err(_) => {
            crate::log::log_bytes(
                crate::log::Level::Err,
                &[b"Module alias ", alias, b" not found."].concat(),
            );
            return false;
        }
    };
    if modules.is_empty() {
        crate::log::log_bytes(
            crate::log::Level::Err,
            &[b"Module ", alias, b" not found."].concat(),
        );
        return false;
    }
    let mut ok = true;
    for module in &modules {
        ok &= show(ctx, s, out, module);
    }
    ok
}

/// Prints one module; false if its information could not be read.
fn show(ctx: &Context, s: &Settings, out: &mut impl Write, module: &Module) -> bool {
    if let Some(docs) = &s.json {
        return match json_of(ctx, s, module) {
            Some(doc) => {
                docs.borrow_mut().push(doc);
                true
            }
            None => false,
        };
    }
    let sep = s.separator;
    let field = s.field.as_deref();
    let filename: Vec<u8> = match &module.path {
        Some(p) => p.as_os_str().as_bytes().to_vec(),
        None => {
            match field {
                None => line(out, b"name:", &module.name, sep),
                Some(b"name") => value(out, &module.name, sep),
                _ => {}
            }
            b"(builtin)".to_vec()
        }
    };
    match field {
        Some(b"filename") => {
            value(out, &filename, sep);
            return true;
        }
        None => line(out, b"filename:", &filename, sep),
        _ => {}
    }
    let fields = match fields_of(ctx, module) {
        Ok(Some(f)) => f,
        Ok(None) => return true,
        Err(errno) => {
            unreadable(module, errno);
            return false;
        }
    };
    let params = modinfo::merge_params(&fields);
    report_invalid(&params);
    match field {
        Some(b"parm") => {
            for p in &params.params {
                value(out, &param_text(p, true), sep);
            }
        }
        Some(f) => fields
            .iter()
            .filter(|x| x.key == f)
            .for_each(|x| value(out, &x.value, sep)),
        None => {
            for x in fields.iter().filter(|x| !modinfo::is_param_key(&x.key)) {
                if sep == 0 {
                    let _ = out.write_all(&[&x.key[..], b"=", &x.value, &[0]].concat());
                } else {
                    key_value(out, &x.key, &x.value, sep);
                }
            }
            for p in &params.params {
                line(out, b"parm:", &param_text(p, false), sep);
            }
        }
    }
    true
}

/// `--json`: one module as docs/json.md describes it, from the same
/// fields the text shows (`-F` and its shorthands filter them); `None`
/// after reporting a module whose information could not be read.
fn json_of(ctx: &Context, s: &Settings, module: &Module) -> Option<Json> {
    let fields = match fields_of(ctx, module) {
        Ok(f) => f.unwrap_or_default(),
        Err(errno) => {
            unreadable(module, errno);
            return None;
        }
    };
    let params = modinfo::merge_params(&fields);
    report_invalid(&params);
    let wanted = |key: &[u8]| s.field.as_deref().is_none_or(|f| f == key);
    let field_list = fields
        .iter()
        .filter(|x| !modinfo::is_param_key(&x.key) && wanted(&x.key))
        .map(|x| {
            // The text view wraps long hex values; JSON keeps them whole.
            let value = if x.key == b"signature" || x.key == b"sig_key" {
                Json::Str(String::from_utf8_lossy(&x.value).replace("\n\t\t", ""))
            } else {
                Json::bytes(&x.value)
            };
            Json::Obj(vec![("key", Json::bytes(&x.key)), ("value", value)])
        })
        .collect();
    let param_list = if wanted(b"parm") {
        let opt = |v: Option<&[u8]>| v.map_or(Json::Null, Json::bytes);
        params
            .params
            .iter()
            .map(|p| {
                Json::Obj(vec![
                    ("name", Json::bytes(p.name)),
                    ("type", opt(p.ty)),
                    ("description", opt(p.desc)),
                ])
            })
            .collect()
    } else {
        Vec::new()
    };
    let filename = module
        .path
        .as_ref()
        .map_or(Json::Null, |p| Json::bytes(p.as_os_str().as_bytes()));
    Some(Json::Obj(vec![
        ("name", Json::bytes(&module.name)),
        ("filename", filename),
        ("builtin", Json::Bool(module.path.is_none())),
        ("fields", Json::Arr(field_list)),
        ("parameters", Json::Arr(param_list)),
    ]))
}

/// kmod's message for a module whose information cannot be read.
fn unreadable(module: &Module, errno: i32) {
    let why = crate::strerror(&io::Error::from_raw_os_error(errno));
    let msg = [
        b"could not get modinfo from '",
        &module.name[..],
        b"': ",
        why.as_bytes(),
    ];
    crate::log::log_bytes(crate::log::Level::Err, &msg.concat());
}

/// kmod's message for each `parm`/`parmtype` record without a `:`.
fn report_invalid(params: &modinfo::Params<'_>) {
    for bad in &params.invalid {
        error!(
            "Found invalid \"{}={}\": missing ':'",
            String::from_utf8_lossy(&bad.key),
            String::from_utf8_lossy(&bad.value)
        );
    }
}

/// The module's fields; `Ok(None)` for a built-in module on a system
/// without `modules.builtin.modinfo`, which is not an error.
fn fields_of(ctx: &Context, module: &Module) -> Result<Option<Vec<Field>>, i32> {
    match &module.path {
        Some(path) => {
            let file = ModuleFile::open(ctx.root().host(path)).map_err(|e| e.errno())?;
            modinfo::module_fields(&file)
                .map(Some)
                .map_err(|e| e.errno())
        }
        None => match ctx.builtin_fields(&module.name) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e == libc::ENOENT => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// `name:desc (type)`, `name:desc`, or for a type alone `name:type` — which
/// `-F parm` shows as `name: (type)`.
fn param_text(p: &modinfo::Param<'_>, field_only: bool) -> Vec<u8> {
    let mut v = p.name.to_vec();
    v.push(b':');
    match (p.desc, p.ty) {
        (None, Some(ty)) if field_only => v.extend_from_slice(&[b" (", ty, b")"].concat()),
        (None, Some(ty)) => v.extend_from_slice(ty),
        (Some(d), Some(ty)) => v.extend_from_slice(&[d, b" (", ty, b")"].concat()),
        (Some(d), None) => v.extend_from_slice(d),
        (None, None) => {}
    }
    v
}

/// `key:` padded to 16 columns, then the value.
fn line(out: &mut impl Write, label: &[u8], v: &[u8], sep: u8) {
    let pad = 16usize.saturating_sub(label.len());
    let _ = out.write_all(label);
    let _ = out.write_all(&b"                "[..pad]);
    let _ = out.write_all(v);
    let _ = out.write_all(&[sep]);
}

/// A field line: keys longer than 15 characters get no padding (kmod 34).
fn key_value(out: &mut impl Write, key: &[u8], v: &[u8], sep: u8) {
    let pad = 15usize.saturating_sub(key.len());
    let _ = out.write_all(key);
    let _ = out.write_all(b":");
    let _ = out.write_all(&b"               "[..pad]);
    let _ = out.write_all(v);
    let _ = out.write_all(&[sep]);
}

fn value(out: &mut impl Write, v: &[u8], sep: u8) {
    let _ = out.write_all(v);
    let _ = out.write_all(&[sep]);
}
