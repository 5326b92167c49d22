//! Links libkmod.so with kmod's SONAME and symbol versions, and compiles
//! the C shim that calls a client's `va_list` log function.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let map = dir.join("libkmod.map");
    println!("cargo:rerun-if-changed={}", map.display());
    println!("cargo:rerun-if-changed=src/log_shim.c");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkmod.so.2");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        map.display()
    );
    cc::Build::new()
        .file("src/log_shim.c")
        .warnings(true)
        .compile("kmod_log_shim");
    link_soname_file();
}

/// Programs look for the library by its SONAME: leave `libkmod.so.2`
/// beside the `libkmod.so` cargo writes (target/<profile>/), so that
/// `LD_LIBRARY_PATH=target/release` finds it after a plain `cargo build`.
fn link_soname_file() {
    let Some(out) = std::env::var_os("OUT_DIR") else {
        return;
    };
    // OUT_DIR is target/<profile>/build/<pkg>-<hash>/out.
    let Some(profile) = PathBuf::from(out).ancestors().nth(3).map(PathBuf::from) else {
        return;
    };
    let link = profile.join("libkmod.so.2");
    if std::fs::symlink_metadata(&link).is_err() {
        let _ = std::os::unix::fs::symlink("libkmod.so", &link);
    }
}
