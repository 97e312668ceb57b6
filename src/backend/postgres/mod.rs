//! The PostgreSQL backend (cargo feature `postgres`; docs/postgres.md): a database URL
//! instead of a store file. This part holds what every PostgreSQL store shares:
//!
//! - `connect`: URLs (libpq parameters) and connections;
//! - `tls`: TLS with libpq's `sslmode`, `sslrootcert`, `sslcert`, `sslkey`;
//! - `schema`: the relational schema, created on first open and version-checked;
//! - `lease`: the writer lease, its renewal and the fence every write runs;
//! - `mc`: mission-control results in `mc_results`;
//! - `error`: PostgreSQL failures as the crate's statuses.

pub mod connect;
pub mod error;
pub mod lease;
pub mod mc;
pub mod schema;
pub mod tls;

pub use connect::{is_database_url, PgUrl};
pub use lease::{Lease, LeaseConfig, DEFAULT_LEASE_DURATION, FENCE};
pub use mc::PgMcTable;

// The payment engine (tables payments, attempts, tombstones, counters).
mod engine;
mod payments;
mod read;
mod rows;
#[cfg(test)]
mod test_support;
mod write;

pub use engine::PgEngine;
pub use write::VACUUM_UNRESOLVED_EVERY;
