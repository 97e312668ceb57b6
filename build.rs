//! Generates include/lnpaystore.h from the exports in src/ffi (pinned cbindgen), and the
//! status table src/error.rs includes (tools/status_table.rs).

use std::path::Path;

#[path = "tools/status_table.rs"]
mod status_table;

fn main() {
    for input in [
        "src/ffi",
        "src/error.rs",
        "src/model/query.rs",
        "src/model/enums.rs",
        "tools/status_table.rs",
        "cbindgen.toml",
    ] {
        println!("cargo:rerun-if-changed={input}");
    }
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let crate_dir = Path::new(&crate_dir);
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    status_table::generate(
        &crate_dir.join("src/error.rs"),
        &Path::new(&out_dir).join("status_table.rs"),
    );
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    // Only the C boundary (cbindgen follows its `mod` items), the status enum and the
    // model types C shares as they are: internal constants stay out of the header.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .with_src(crate_dir.join("src/error.rs"))
        .with_src(crate_dir.join("src/model/query.rs"))
        .with_src(crate_dir.join("src/model/enums.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut header = Vec::new();
    bindings.write(&mut header);
    let header = String::from_utf8(header).expect("the header is UTF-8");

    // lps_status_name takes any int in Rust (an out-of-range enum would be undefined
    // behaviour there); C callers see the contract's parameter type, which is the same
    // int-sized type.
    let from = "lps_status_name(int status)";
    assert!(header.contains(from), "lps_status_name's signature changed");
    let header = header.replace(from, "lps_status_name(LpsStatus status)");
    // Functions return the typedef, as docs/c-api.md writes them (`LpsStatus lps_...`): to
    // C the two names are one type, but cgo would see `enum_LpsStatus` and `LpsStatus`
    // apart.
    let header = header.replace("enum LpsStatus lps_", "LpsStatus lps_");

    let path = crate_dir.join("include/lnpaystore.h");
    // Rewrite only on change, so that builds do not touch a committed file's mtime.
    if std::fs::read_to_string(&path).ok().as_deref() != Some(header.as_str()) {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir include");
        std::fs::write(&path, header).expect("write include/lnpaystore.h");
    }
}
