//! The control tower's notification side: subscription queues and the registry the
//! writer publishes committed states to.

mod subscription;

pub use subscription::{Registry, Subscription};
