//! Progress bars on standard error for long work (audit verify and export,
//! archive verification, doctor's blob check, benchmarks). Drawn only for a
//! person watching: standard error a terminal and no `--json`. Otherwise
//! the bar is hidden and nothing reaches standard error, so logs and
//! scripts see only the result.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether bars are drawn: for a person at a terminal, never with `--json`.
pub fn drawn(json: bool, stderr_is_terminal: bool) -> bool {
    !json && stderr_is_terminal
}

/// A bar of `len` steps named `what` ("entries", "blobs", …), or a hidden
/// one (see [`drawn`]).
pub fn bar(json: bool, len: u64, what: &str) -> ProgressBar {
    if !drawn(json, std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let template = format!("{{bar:40}} {{human_pos}}/{{human_len}} {what} ({{eta}} left)");
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("█▌ "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over bytes (an archive read line by line).
pub fn bytes_bar(json: bool, len: u64) -> ProgressBar {
    if !drawn(json, std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)")
    {
        bar.set_style(style.progress_chars("█▌ "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    #[test]
    fn bars_are_for_a_person_at_a_terminal_only() {
        assert!(super::drawn(false, true));
        assert!(!super::drawn(true, true), "--json output has no bar");
        assert!(
            !super::drawn(false, false),
            "a pipe or a log file has no bar"
        );
        assert!(!super::drawn(true, false));
    }
}
