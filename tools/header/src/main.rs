//! Generates include/lnpaystore.h from the exports in src/ffi with the pinned cbindgen.
//!
//!     cargo run -p lnpaystore-header            (what `make header` runs)
//!     cargo run -p lnpaystore-header -- --check (exit 1 if the committed header differs)

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: lnpaystore-header [--check] (unknown argument {other:?})");
            return ExitCode::from(2);
        }
    };
    // tools/header is two levels below the repository root.
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists");
    let header = generate(&root);
    let path = root.join("include/lnpaystore.h");
    let current = std::fs::read_to_string(&path).ok();
    if current.as_deref() == Some(header.as_str()) {
        return ExitCode::SUCCESS;
    }
    if check {
        eprintln!(
            "include/lnpaystore.h is not what src/ffi generates: run `make header` and commit it"
        );
        return ExitCode::FAILURE;
    }
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir include");
    std::fs::write(&path, header).expect("write include/lnpaystore.h");
    eprintln!("wrote {}", path.display());
    ExitCode::SUCCESS
}

fn generate(root: &Path) -> String {
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is readable");
    // Only the C boundary (cbindgen follows its `mod` items), the status enum and the
    // model types C shares as they are: internal constants stay out of the header.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .with_src(root.join("src/error.rs"))
        .with_src(root.join("src/model/query.rs"))
        .with_src(root.join("src/model/enums.rs"))
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
    // Functions return the typedef, as the C API writes them (`LpsStatus lps_...`): to C
    // the two names are one type, but cgo would see `enum_LpsStatus` and `LpsStatus`
    // apart.
    header.replace("enum LpsStatus lps_", "LpsStatus lps_")
}
