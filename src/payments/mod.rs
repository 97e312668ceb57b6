//! The payment store over the backend trait: transitions, indexes, queries, group commit.

mod assemble;
mod cache;
mod commit;
mod import;
mod integrity;
mod keys;
mod ops;
mod query;
mod store;

pub use commit::CommitStats;
pub use import::{ImportPayment, ImportRefusal, ImportReport, IMPORT_CHUNK};
pub use integrity::IntegrityReport;
pub use query::DEFAULT_MAX_PAYMENTS;
pub(crate) use store::Change;
pub use store::{
    Options, PaymentCounts, QueryResponse, Store, DEFAULT_MAX_BATCH_SIZE, DELETE_CHUNK,
};
