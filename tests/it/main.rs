//! The integration tests, one binary: spec parsing, training against PyTorch's numbers,
//! determinism, and the CLI end to end.

mod arms;
mod bench_vs;
mod browser;
mod budget;
mod cli;
mod curves;
mod data;
mod front;
mod gate;
mod golden;
mod identity;
mod lstm_fcn;
mod malloc;
mod metric;
mod model;
mod numerics;
mod optim;
mod owndata;
mod prep;
mod resume;
mod retrieval;
mod sanity;
mod slurm;
mod spec;
mod stacked;
mod stats;
mod store;
mod table;
mod torchscript;
mod train;
mod util;
