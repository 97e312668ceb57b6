//! The payment store: the control tower's transitions written once (`ops`, `import`),
//! group commit, and the storage engines that apply their mutations (`engine`; the
//! embedded one in `kv`).

mod cache;
mod commit;
mod delete;
pub(crate) mod engine;
mod import;
pub(crate) mod integrity;
mod kv;
mod ops;
pub(crate) mod query;
mod store;

pub use commit::CommitStats;
pub use delete::DELETE_CHUNK;
pub use import::{
    ImportPayment, ImportRefusal, ImportReport, IMPORT_CHUNK, MAX_IMPORT_SEQUENCE_NUM,
};
pub use integrity::IntegrityReport;
pub use query::DEFAULT_MAX_PAYMENTS;
pub(crate) use store::Change;
pub use store::{Options, PaymentCounts, QueryResponse, Store, DEFAULT_MAX_BATCH_SIZE};
