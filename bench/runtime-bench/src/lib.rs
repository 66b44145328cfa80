//! Helpers for eddy's runtime benchmark that know nothing about any runtime:
//! a meter for wall and CPU time, order statistics, and the report (machine
//! description, markdown tables, result file name).
//!
//! The scenarios and the runtimes they run on live in the bench target
//! (`benches/runtime.rs` and `benches/scenarios/`), because the runtimes are
//! dev-dependencies of this crate: see `Cargo.toml` for why. Run it with
//!
//! ```text
//! cargo bench --manifest-path bench/Cargo.toml -p runtime-bench
//! ```
//!
//! and read `bench/RUNTIME.md` for what each scenario measures and how.

#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod measure;
pub mod report;
pub mod stats;
