//! `solder check` (alias `validate`): everything `run` checks before building anything —
//! syntax, component names and stability, arguments — with every diagnostic printed at once.

use crate::cli::CheckArgs;
use crate::registry::registry;
use solder_core::Stability;
use std::process::ExitCode;

pub fn run(args: &CheckArgs) -> ExitCode {
    if let Err(message) = crate::run::check_config_format(&args.config_format) {
        eprintln!("Error: {message}");
        return ExitCode::FAILURE;
    }
    let Some(stability) = Stability::parse(&args.stability_level) else {
        eprintln!(
            "Error: invalid --stability.level {:?}: want generally-available, public-preview or experimental",
            args.stability_level
        );
        return ExitCode::FAILURE;
    };
    match solder_runtime::check(&args.path, &registry(), stability) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let rendered = err.render();
            eprint!("{rendered}");
            if !rendered.ends_with('\n') {
                eprintln!();
            }
            ExitCode::FAILURE
        }
    }
}
