//! Progress bars on standard error for long measurements, drawn only for a
//! person watching: standard error a terminal and no `--json`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps named `what` ("licences", "messages delivered",
/// …), or a hidden one.
pub fn bar(json: bool, len: u64, what: &str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
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
