//! The C ABI (docs/c-api.md): a thin adapter over the Rust API.
//!
//! Infrastructure lives in small modules of its own: `boundary` (the panic boundary and
//! the thread-local last error), `handle` (pointer checks, casts and frees), `owner`
//! (which process a handle belongs to), `view` (C inputs read into the model) and
//! `arena` (the memory behind outputs). Every other module holds the exports of one
//! area, next to the types they act on.

// Areas (the header lists their exports in this order).
mod library;
mod lifecycle;
mod mc;
mod payment;
mod query;
mod store;
mod subscription;
mod types;
// Bulk import, last in the header so that adding it moved no earlier declaration.
mod import;

// Infrastructure.
mod arena;
mod boundary;
mod handle;
mod owner;
mod view;

pub use import::*;
pub use library::*;
pub use lifecycle::*;
pub use mc::*;
pub use payment::*;
pub use query::*;
pub use store::*;
pub use subscription::*;
pub use types::*;
pub use view::{LPS_MAX_ARRAY_LEN, LPS_MAX_BYTES_LEN, LPS_MAX_OPERATION_BYTES};
