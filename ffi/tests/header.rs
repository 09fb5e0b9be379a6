//! The checked-in C header is exactly what cbindgen makes of the crate today, and its version macros are
//! the crate's version.

// Reads the C string `mega_version` returns.
#![allow(unsafe_code)]

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let config =
        cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(root())
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn checked_in_header_is_up_to_date() {
    let path = root().join("../include/sqs_mega.h");
    let fresh = generate();
    if std::env::var_os("MEGA_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/sqs_mega.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != fresh {
        let first = checked_in
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(fresh.lines().count()));
        panic!(
            "include/sqs_mega.h is out of date (first difference at line {}): regenerate it with\n  \
             MEGA_BLESS=1 cargo test -p sqs-mega-ffi --test header\nchecked in: {:?}\ngenerated:  {:?}",
            first + 1,
            checked_in.lines().nth(first),
            fresh.lines().nth(first)
        );
    }
}

#[test]
fn version_macros_match_the_crate() {
    let header = std::fs::read_to_string(root().join("../include/sqs_mega.h")).expect("header");
    let find = |name: &str| -> String {
        let line = header
            .lines()
            .find(|l| l.starts_with(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("#define {name} is missing from the header"));
        line[format!("#define {name} ").len()..]
            .trim()
            .trim_matches('"')
            .to_owned()
    };
    assert_eq!(find("MEGA_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(find("MEGA_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(find("MEGA_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    assert_eq!(find("MEGA_VERSION_STRING"), env!("CARGO_PKG_VERSION"));
    // And the library says the same at run time.
    // SAFETY: a static NUL-terminated string.
    let runtime = unsafe { std::ffi::CStr::from_ptr(sqs_mega::mega_version()) };
    assert_eq!(runtime.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}
