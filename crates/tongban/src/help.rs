//! `tongban completions` and `tongban man`: the shell's completions and
//! manual pages, generated from the same definition clap parses with, so
//! they never disagree with `--help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use clap_complete::Shell;
use serde_json::json;

use crate::Context;
use crate::output::{Coded, print_json};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell. Bash: `tongban completions bash > /etc/bash_completion.d/tongban`;
    /// zsh: into a directory on `$fpath` as `_tongban`; fish: into
    /// `~/.config/fish/completions/tongban.fish`.
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command here (tongban.1, tongban-licence.1,
    /// tongban-licence-issue.1, …) instead of printing tongban.1.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn completions(ctx: &Context, args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut crate::command(), "tongban", &mut script);
    let script = String::from_utf8(script)
        .map_err(|e| Coded::new("IO", format!("the completion script is not UTF-8: {e}")))?;
    if ctx.json {
        print_json(&json!({"shell": args.shell.to_string(), "script": script}))?;
    } else {
        print!("{script}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn man(ctx: &Context, args: ManArgs) -> anyhow::Result<ExitCode> {
    let mut root = crate::command().disable_help_subcommand(true);
    root.build();
    let Some(dir) = args.out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(root).render(&mut page)?;
        let page = String::from_utf8(page)
            .map_err(|e| Coded::new("IO", format!("the manual page is not UTF-8: {e}")))?;
        if ctx.json {
            print_json(&json!({"page": page}))?;
        } else {
            print!("{page}");
        }
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", dir.display())))?;
    let mut written = Vec::new();
    write_pages(root, &dir, &mut written)?;
    if ctx.json {
        print_json(&json!({"dir": dir, "pages": written}))?;
    } else {
        println!("wrote {} manual pages to {}", written.len(), dir.display());
        println!("read one with: man -l {}", dir.join("tongban.1").display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A page for `cmd` and, before it, one for each of its subcommands (their
/// names built by clap: `tongban-licence-issue`).
fn write_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<String>) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    let path = clap_mangen::Man::new(cmd)
        .generate_to(dir)
        .map_err(|e| Coded::new("IO", format!("{}: {e}", dir.display())))?;
    if let Some(name) = path.file_name() {
        written.push(name.to_string_lossy().into_owned());
    }
    Ok(())
}
