//! `repro`: reproduce papers' claims and audit strong baselines, on libtorch.
//!
//! Flow: [`spec`] (YAML → validated arms) → [`runner`] (plan, keys, executors) → [`train`]
//! (data from [`data`], models from [`model`]) → [`store`] (run directories) → [`audit`]
//! (statistics, verdicts) → [`report`] (tables). [`provenance`] records what a number depends on.
//! See ARCHITECTURE.md for the invariants.

pub mod audit;
pub mod baseline;
pub mod cli;
pub mod data;
pub mod device;
pub mod front;
#[cfg(torch)]
pub mod model;
pub mod numerics;
pub mod progress;
pub mod provenance;
pub mod record;
pub mod report;
pub mod rng;
pub mod runner;
#[cfg(torch)]
pub mod sanity;
pub mod session;
pub mod spec;
pub mod store;
pub mod train;
pub mod yaml;
