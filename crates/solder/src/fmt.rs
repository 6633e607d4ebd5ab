//! `solder fmt`: canonical formatting (spec §1.10). Syntax only; component schemas are not
//! consulted, so it works on configs for components Solder does not implement.

use crate::cli::FmtArgs;
use solder_syntax::printer::{format_source, verify_formatting};
use solder_syntax::SourceMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: &FmtArgs) -> ExitCode {
    match format_cmd(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn format_cmd(args: &FmtArgs) -> Result<ExitCode, String> {
    if args.write && args.test {
        return Err("cannot use -w/--write and -t/--test at the same time".into());
    }
    let path = args.path.as_deref().filter(|p| *p != Path::new("-"));
    let (name, src) = match path {
        None => {
            if args.write {
                return Err("cannot use -w with standard input".into());
            }
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("reading standard input: {e}"))?;
            ("<stdin>".to_string(), s)
        }
        Some(p) => {
            if p.is_dir() {
                return Err("cannot format a directory".into());
            }
            let s = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            (p.display().to_string(), s)
        }
    };

    let formatted = match format_source(&src) {
        Ok(mut out) => {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out
        }
        Err(diags) => {
            let mut map = SourceMap::new();
            map.add(name.as_str(), src.as_str());
            eprint!("{}", diags.render(&map));
            return Err("encountered errors during formatting".into());
        }
    };
    let unchanged = formatted == src;

    if args.test {
        if unchanged {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(format!("file {name} is not formatted correctly"));
    }
    match path {
        Some(p) if args.write => {
            // Only touch the file when the content changes, so mtime-based watchers stay quiet.
            if !unchanged {
                // Alloy's printer can change meaning in rare cases (see `verify_formatting`);
                // never overwrite a user's file with a config that means something else.
                verify_formatting(&src, &formatted)
                    .map_err(|e| format!("not writing {}: {e}", p.display()))?;
                std::fs::write(p, formatted.as_bytes())
                    .map_err(|e| format!("writing {}: {e}", p.display()))?;
            }
        }
        _ => {
            std::io::stdout()
                .write_all(formatted.as_bytes())
                .map_err(|e| format!("writing standard output: {e}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
