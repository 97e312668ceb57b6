//! Every number the header publishes, walked value by value: the status codes against
//! `LpsStatus::ALL`, `from_code`, `lps_status_name` and the C API reference in
//! docs/c-api.md; the model's enums against their `ALL` lists and `try_from`. The header
//! is generated from the Rust enums, so a code added in one place only fails here.

use std::collections::BTreeMap;
use std::ffi::CStr;

use lnpaystore::ffi::lps_status_name;
use lnpaystore::{FailureReason, HtlcFailReason, LpsStatus, PaymentStatus};

const HEADER: &str = include_str!("../include/lnpaystore.h");

/// The constants `PREFIX_NAME = n,` of one header enum, by name (without the prefix).
fn header_enum(prefix: &str) -> BTreeMap<String, i64> {
    let out: BTreeMap<String, i64> = HEADER
        .lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .filter_map(|l| {
            let (name, value) = l.trim_end_matches(',').split_once(" = ")?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect();
    assert!(!out.is_empty(), "no {prefix}* constants in the header");
    out
}

/// `InFlight` → `IN_FLIGHT`, as the header names a variant.
fn screaming(variant: impl std::fmt::Debug) -> String {
    let mut out = String::new();
    for (i, ch) in format!("{variant:?}").chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

fn library_name(code: i64) -> String {
    // SAFETY: lps_status_name returns a static NUL-terminated string for any value.
    let name = unsafe { CStr::from_ptr(lps_status_name(code as _)) };
    name.to_str().expect("status names are ASCII").to_string()
}

#[test]
fn every_status_code_has_its_rust_variant_name_and_library_name() {
    let header = header_enum("LPS_STATUS_");
    let rust: BTreeMap<String, i64> = LpsStatus::ALL
        .iter()
        .map(|s| (screaming(s), *s as i64))
        .collect();
    assert_eq!(rust, header, "LpsStatus::ALL against the header");
    for s in LpsStatus::ALL {
        assert_eq!(s.name(), format!("LPS_STATUS_{}", screaming(s)));
    }
    let numbers: Vec<i64> = LpsStatus::ALL.iter().map(|s| *s as i64).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "ALL is in number order"
    );
    for code in -1..1000 {
        let known = header
            .iter()
            .find(|(_, n)| **n == code)
            .map(|(name, _)| name);
        assert_eq!(
            LpsStatus::from_code(code).map(|s| s as i64),
            known.map(|_| code),
            "from_code({code})"
        );
        let expected = known.map_or("LPS_STATUS_UNKNOWN".to_string(), |n| {
            format!("LPS_STATUS_{n}")
        });
        assert_eq!(library_name(code), expected, "lps_status_name({code})");
    }
}

#[test]
fn the_c_api_reference_lists_every_status_code_with_its_number() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/c-api.md"))
        .expect("docs/c-api.md is readable");
    let listed: BTreeMap<String, i64> = doc
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let number = cells.get(1)?.parse().ok()?;
            let name = cells
                .get(2)?
                .trim_matches('`')
                .strip_prefix("LPS_STATUS_")?;
            Some((name.to_string(), number))
        })
        .collect();
    assert_eq!(
        listed,
        header_enum("LPS_STATUS_"),
        "docs/c-api.md's status table (make status-tables regenerates it)"
    );
}

/// Every value 0..=255 of a model enum: `try_from` accepts exactly the header's
/// numbers, gives the variant of that name, and `ALL` holds each variant once.
fn walk<E>(prefix: &str, all: &[E])
where
    E: Copy + std::fmt::Debug + PartialEq + Into<u8> + TryFrom<u8>,
{
    let header = header_enum(prefix);
    let listed: BTreeMap<String, i64> = all
        .iter()
        .map(|e| (screaming(e), i64::from((*e).into())))
        .collect();
    assert_eq!(listed.len(), all.len(), "{prefix}: ALL repeats a variant");
    assert_eq!(listed, header, "{prefix}: ALL against the header");
    for v in 0..=u8::MAX {
        let rust = E::try_from(v).ok().map(screaming);
        let c = header
            .iter()
            .find(|(_, n)| **n == i64::from(v))
            .map(|(name, _)| name.clone());
        assert_eq!(rust, c, "{prefix}{v}");
    }
}

#[test]
fn the_model_enums_are_the_header_enums_value_by_value() {
    walk("LPS_PAYMENT_STATUS_", &PaymentStatus::ALL);
    walk("LPS_FAILURE_REASON_", &FailureReason::ALL);
    walk("LPS_HTLC_FAIL_REASON_", &HtlcFailReason::ALL);
}
