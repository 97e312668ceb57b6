//! The mission-control store (docs/behaviour.md, Mission control): results of past
//! attempts, kept per namespace so path finding can rebuild its model on start-up.
//!
//! - `persisted`: the namespace's rows and the in-memory key set, and the difference a
//!   flush writes (decided before its transaction, applied to memory after the commit).
//! - `handle`: the queue `add_result` fills and the flusher thread that drains it once
//!   per interval, sleeping without a timer while nothing is queued.
//! - `namespaces`: which namespaces of a store are open (one handle each).
//! - `table`: where a backend keeps the rows (`McTable`; the key-value layout here).

mod handle;
mod namespaces;
mod persisted;
mod table;

pub use handle::{McOptions, McStats, MissionControl};
pub(crate) use namespaces::Namespaces;
pub(crate) use table::KvTable;
pub use table::McTable;
// Only the PostgreSQL table uses these from outside the module.
#[cfg(feature = "postgres")]
pub(crate) use table::check_namespace;
#[cfg(feature = "postgres")]
pub use table::RowVisitor;
