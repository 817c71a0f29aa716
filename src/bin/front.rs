//! The `repro` binary: the front, without libtorch. It parses the same flags as `repro-torch`,
//! runs the commands that do not train itself and hands the others to `repro-torch` (found
//! beside it), whose workers train (ARCHITECTURE.md, "Two binaries").

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = repro_front::cli::Cli::parse();
    match repro_front::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            std::process::ExitCode::from(failure.code)
        }
    }
}
