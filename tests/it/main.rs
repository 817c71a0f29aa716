//! The integration tests, one binary: spec parsing, training against PyTorch's numbers,
//! determinism, and the CLI end to end.

mod arms;
mod browser;
mod cli;
mod data;
mod gate;
mod golden;
mod identity;
mod metric;
mod model;
mod numerics;
mod optim;
mod prep;
mod resume;
mod retrieval;
mod slurm;
mod spec;
mod stats;
mod store;
mod torchscript;
mod train;
mod util;
