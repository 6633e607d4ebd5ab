//! `solder`: runs Grafana Alloy configurations. See `solder --help`.

mod check;
mod cli;
mod duration;
mod fmt;
mod logging;
mod registry;
mod run;
mod self_metrics;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!("{}", version_text());
        return ExitCode::SUCCESS;
    }
    match cli.command {
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Fmt(args)) => fmt::run(&args),
        Some(Command::Version) => {
            print!("{}", version_text());
            ExitCode::SUCCESS
        }
        None => {
            // Like Alloy: no subcommand prints usage and fails.
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
    }
}

fn version_text() -> String {
    let b = self_metrics::BuildInfo::current();
    format!(
        "solder, version v{} (branch: {}, revision: {})\n  rust version:  {}\n  platform:      {}/{}\n  tags:          {}\n",
        b.version, b.branch, b.revision, b.rust_version, b.os, b.arch, b.tags
    )
}
