//! The command line, mirroring `alloy` so existing manifests (Helm chart args, systemd units)
//! work unchanged: flag names keep Alloy's dotted form and `--flag=value` booleans.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "solder",
    about = "A telemetry collector agent that runs Grafana Alloy configurations.",
    disable_version_flag = true
)]
pub struct Cli {
    /// Print version information and exit.
    #[arg(long = "version", global = false)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the components described by a config file or a directory of `*.alloy` files.
    Run(RunArgs),
    /// Check a config without running it: syntax, component names, arguments.
    #[command(alias = "validate")]
    Check(CheckArgs),
    /// Format a config file canonically.
    #[command(alias = "format")]
    Fmt(FmtArgs),
    /// Print version information.
    Version,
}

/// A boolean flag that also takes `--flag=true|false`, as Go's flag package does.
macro_rules! go_bool {
    () => {
        clap::ArgAction::Set
    };
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file, or a directory whose `*.alloy` files form one config.
    pub path: PathBuf,

    /// Address the admin HTTP server listens on.
    #[arg(long = "server.http.listen-addr", default_value = "127.0.0.1:12345")]
    pub listen_addr: String,

    /// Address that in-process scrapes of the agent itself use.
    #[arg(
        long = "server.http.memory-addr",
        default_value = "alloy.internal:12345"
    )]
    pub memory_addr: String,

    /// Path prefix where the UI and its JSON API are served.
    #[arg(long = "server.http.ui-path-prefix", default_value = "/")]
    pub ui_path_prefix: String,

    /// Accepted for compatibility. pprof is a Go facility; Solder serves no /debug/pprof endpoints.
    #[arg(long = "server.http.enable-pprof", action = go_bool!(), num_args = 0..=1,
          require_equals = true, default_value = "true", default_missing_value = "true")]
    pub enable_pprof: bool,

    /// Accepted for compatibility; Solder has no support bundle endpoint.
    #[arg(long = "server.http.disable-support-bundle", action = go_bool!(), num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true")]
    pub disable_support_bundle: bool,

    /// Base directory where components keep their state.
    #[arg(long = "storage.path", default_value = "data-solder/")]
    pub storage_path: PathBuf,

    /// Least stable component level allowed: generally-available, public-preview or experimental.
    #[arg(long = "stability.level", default_value = "generally-available")]
    pub stability_level: String,

    /// Accepted for compatibility; Solder never sends usage reports.
    #[arg(long = "disable-reporting", action = go_bool!(), num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true")]
    pub disable_reporting: bool,

    /// How long components get to drain on shutdown (Go duration, e.g. 10m, 30s).
    #[arg(long = "feature.component-shutdown-deadline", default_value = "10m")]
    pub shutdown_deadline: String,

    /// Config format. Only `alloy` is supported.
    #[arg(long = "config.format", default_value = "alloy")]
    pub config_format: String,

    /// Clustering. Not supported: only `false` is accepted.
    #[arg(long = "cluster.enabled", action = go_bool!(), num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true")]
    pub cluster_enabled: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Config file or directory.
    pub path: PathBuf,

    /// Config format. Only `alloy` is supported.
    #[arg(long = "config.format", default_value = "alloy")]
    pub config_format: String,

    /// Least stable component level allowed.
    #[arg(long = "stability.level", default_value = "generally-available")]
    pub stability_level: String,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Write the result back to the file (only when it changes).
    #[arg(short = 'w', long = "write")]
    pub write: bool,

    /// Exit non-zero if the file is not formatted; print nothing.
    #[arg(short = 't', long = "test")]
    pub test: bool,

    /// File to format; `-` or nothing reads stdin.
    pub path: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("solder").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).unwrap().command {
            Some(Command::Run(r)) => r,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_match_alloy() {
        let r = run_args(&["run", "config.alloy"]);
        assert_eq!(r.path, PathBuf::from("config.alloy"));
        assert_eq!(r.listen_addr, "127.0.0.1:12345");
        assert_eq!(r.memory_addr, "alloy.internal:12345");
        assert_eq!(r.ui_path_prefix, "/");
        assert_eq!(r.storage_path, PathBuf::from("data-solder/"));
        assert_eq!(r.stability_level, "generally-available");
        assert_eq!(r.shutdown_deadline, "10m");
        assert_eq!(r.config_format, "alloy");
        assert!(!r.cluster_enabled);
        assert!(!r.disable_reporting);
        assert!(r.enable_pprof);
    }

    #[test]
    fn helm_chart_args_parse() {
        let r = run_args(&[
            "run",
            "/etc/alloy/config.alloy",
            "--storage.path=/tmp/alloy",
            "--server.http.listen-addr=0.0.0.0:12345",
            "--server.http.ui-path-prefix=/",
            "--stability.level=generally-available",
            "--disable-reporting",
            "--cluster.enabled=false",
        ]);
        assert_eq!(r.storage_path, PathBuf::from("/tmp/alloy"));
        assert_eq!(r.listen_addr, "0.0.0.0:12345");
        assert!(r.disable_reporting);
        assert!(!r.cluster_enabled);
    }

    #[test]
    fn go_style_bools() {
        assert!(run_args(&["run", "x", "--cluster.enabled"]).cluster_enabled);
        assert!(run_args(&["run", "x", "--cluster.enabled=true"]).cluster_enabled);
        assert!(!run_args(&["run", "x", "--server.http.enable-pprof=false"]).enable_pprof);
        // A bare boolean must not swallow the positional path.
        let r = run_args(&["run", "--disable-reporting", "cfg.alloy"]);
        assert_eq!(r.path, PathBuf::from("cfg.alloy"));
    }

    #[test]
    fn run_requires_exactly_one_path() {
        assert!(parse(&["run"]).is_err());
        assert!(parse(&["run", "a", "b"]).is_err());
    }

    #[test]
    fn validate_is_an_alias_of_check() {
        assert!(matches!(
            parse(&["validate", "x.alloy"]).unwrap().command,
            Some(Command::Check(_))
        ));
    }

    #[test]
    fn fmt_flags() {
        match parse(&["fmt", "-w", "-t", "f.alloy"]).unwrap().command {
            Some(Command::Fmt(f)) => {
                assert!(f.write && f.test);
                assert_eq!(f.path, Some(PathBuf::from("f.alloy")));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["fmt"]).unwrap().command {
            Some(Command::Fmt(f)) => assert!(f.path.is_none() && !f.write && !f.test),
            other => panic!("{other:?}"),
        }
    }
}
