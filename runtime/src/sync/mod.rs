//! Channels between tasks: [`oneshot`] (one value, set later: asyncio's
//! `Future`) and [`mpsc`] (a bounded queue: asyncio's `Queue`).
//!
//! Both work across threads and loops: a value sent from a blocking thread
//! or another loop wakes the receiving task on its own loop.

pub mod mpsc;
pub mod oneshot;
