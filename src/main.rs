//! The `repro-torch` binary (the whole harness on libtorch; the `repro` front runs it for what
//! needs libtorch): parse flags, run the command, map the outcome to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = repro::cli::Cli::parse();
    match repro::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            std::process::ExitCode::from(failure.code)
        }
    }
}
