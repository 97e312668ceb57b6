//! lnpaystore: a durable, crash-safe store for a Lightning node's outgoing payments and
//! mission-control history, with a C ABI for Go, Python and C hosts.
//!
//! Module map (pure rules at the centre, storage behind a trait, the C ABI outside):
//!
//! - [`model`]: payments, attempts, routes; status derivation and attempt validation (pure).
//! - [`codec`]: record encodings and the shared TLV codec (pure, fuzzable).
//! - [`backend`]: the storage trait (transactions with a reset hook) and its redb engine.
//! - `payments`: the store's logic over the trait, group commit, queries.
//! - `subscriptions`: subscriber queues and the registry the writer publishes to.
//! - `missioncontrol`: the mission-control store (namespaces, queue, flusher, eviction).
//!
//! ```no_run
//! use lnpaystore::{CreationInfo, Options, Store};
//! let store = Store::open("payments.db", Options::default())?;
//! let hash = [7u8; 32];
//! store.init_payment(&hash, CreationInfo { value_msat: 1000, ..Default::default() })?;
//! # Ok::<(), lnpaystore::Error>(())
//! ```

pub mod backend;
pub mod codec;
mod error;
pub mod ffi;
mod missioncontrol;
pub mod model;
mod payments;
mod subscriptions;
mod sync;

pub use error::{Error, LpsStatus, Result};
pub use missioncontrol::{McOptions, McStats, MissionControl};
pub use model::*;
pub use payments::{
    CommitStats, ImportPayment, ImportRefusal, ImportReport, IntegrityReport, Options,
    PaymentCounts, QueryResponse, Store, DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_PAYMENTS,
    DELETE_CHUNK, IMPORT_CHUNK, MAX_IMPORT_SEQUENCE_NUM,
};
pub use subscriptions::Subscription;
