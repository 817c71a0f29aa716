//! Progress display: on a terminal, indicatif bars (runs done/total, and one bar per run in
//! flight with step, loss and ETA); otherwise plain lines only, one per finished run.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The overall bar and the per-run bars under it (clones draw on the same bars).
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
}

/// One run's bar (a no-op when output is not a terminal).
#[derive(Clone)]
pub struct RunBar {
    bar: Option<ProgressBar>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress {
    /// Bars on standard error when it is a terminal (and `REPRO_PLAIN` is unset).
    pub fn new(total: u64, label: &str) -> Progress {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("REPRO_PLAIN").is_none();
        if !tty {
            return Progress {
                multi: None,
                overall: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let overall = multi.add(ProgressBar::new(total));
        overall.set_style(style(
            "{prefix:.bold} [{bar:30}] {pos}/{len} runs  {msg}  elapsed {elapsed}, eta {eta}",
        ));
        overall.set_prefix(label.to_string());
        overall.enable_steady_tick(Duration::from_millis(500));
        Progress {
            multi: Some(multi),
            overall: Some(overall),
        }
    }

    pub fn is_drawing(&self) -> bool {
        self.multi.is_some()
    }

    /// A bar for one run, named `name`, below the overall bar.
    pub fn run_bar(&self, name: &str) -> RunBar {
        let Some(multi) = &self.multi else {
            return RunBar { bar: None };
        };
        let bar = multi.add(ProgressBar::new(1));
        bar.set_style(style(
            "  {prefix:32!} [{bar:24}] {pos}/{len} steps  loss {msg}  eta {eta}",
        ));
        bar.set_prefix(name.to_string());
        bar.set_message("-");
        RunBar { bar: Some(bar) }
    }

    /// Prints a line above the bars (or to standard error without them).
    pub fn line(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    pub fn inc(&self) {
        if let Some(b) = &self.overall {
            b.inc(1);
        }
    }

    /// Sets the overall position and message (for waiting on a store filled by others).
    pub fn set(&self, pos: u64, message: &str) {
        if let Some(b) = &self.overall {
            b.set_position(pos);
            b.set_message(message.to_string());
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.overall {
            b.finish_and_clear();
        }
    }
}

impl RunBar {
    pub fn update(&self, done: u64, total: u64, loss: f64) {
        if let Some(b) = &self.bar {
            b.set_length(total.max(1));
            b.set_position(done);
            b.set_message(format!("{loss:.4}"));
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The line a worker prints on standard output as it trains: `progress <done> <total> <loss>`.
pub fn format_step(done: i64, total: i64, loss: f64) -> String {
    format!("progress {done} {total} {loss}")
}

/// Parses a line written by [`format_step`].
pub fn parse_step(line: &str) -> Option<(u64, u64, f64)> {
    let mut words = line.strip_prefix("progress ")?.split_whitespace();
    let done = words.next()?.parse().ok()?;
    let total = words.next()?.parse().ok()?;
    let loss = words.next()?.parse().ok()?;
    Some((done, total, loss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_round_trip() {
        assert_eq!(
            parse_step(&format_step(250, 6001, 0.5)),
            Some((250, 6001, 0.5))
        );
        assert_eq!(parse_step("progress x 1 0.1"), None);
        assert_eq!(parse_step("accuracy 0.9"), None);
    }
}
