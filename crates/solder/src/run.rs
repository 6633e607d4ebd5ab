//! `solder run`: start the admin server, load the config, then serve until SIGTERM/SIGINT,
//! reloading on SIGHUP. A failed initial load exits non-zero; a failed reload keeps the last
//! good graph running (spec §1.9, §4.2).

use crate::cli::RunArgs;
use crate::duration::parse_go_duration;
use crate::logging::LogControl;
use crate::registry::registry;
use crate::self_metrics::{self, BuildInfo};
use solder_core::{HostInfo, Stability};
use solder_runtime::api::AdminApi;
use solder_runtime::http::{serve_with_options, ServerOptions};
use solder_runtime::{Controller, ControllerOptions, LoggingConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// How long the admin server gets to finish in-flight requests once shutdown starts.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// Flags checked before anything starts, so a typo fails fast with a clear message.
#[derive(Debug)]
struct Settings {
    stability: Stability,
    shutdown_deadline: Duration,
}

/// Only the Alloy syntax is implemented; conversions from other formats are not.
pub fn check_config_format(format: &str) -> Result<(), String> {
    match format {
        "alloy" => Ok(()),
        "otelcol" | "prometheus" | "promtail" | "static" => Err(format!(
            "--config.format={format} is not supported by solder: only \"alloy\" configs can be run; convert the config with `alloy convert` first"
        )),
        other => Err(format!(
            "unknown --config.format {other:?}: only \"alloy\" is supported"
        )),
    }
}

fn settings(args: &RunArgs) -> Result<Settings, String> {
    check_config_format(&args.config_format)?;
    if args.cluster_enabled {
        return Err(
            "--cluster.enabled=true is not supported by solder: clustering is not implemented; run without it (every agent does all its own work)"
                .into(),
        );
    }
    let stability = Stability::parse(&args.stability_level).ok_or_else(|| {
        format!(
            "invalid --stability.level {:?}: want generally-available, public-preview or experimental",
            args.stability_level
        )
    })?;
    let shutdown_deadline = parse_go_duration(&args.shutdown_deadline)
        .map_err(|e| format!("--feature.component-shutdown-deadline: {e}"))?;
    Ok(Settings {
        stability,
        shutdown_deadline,
    })
}

pub fn run(args: RunArgs) -> ExitCode {
    // Before any thread exists: the thresholds apply to every allocation that follows.
    solder_core::memory::tune_allocator();
    let settings = match settings(&args) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("Error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let log = match crate::logging::init() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("solder-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve_until_signalled(args, settings, log));
    // Components were given their deadline already; do not wait on stray blocking tasks.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// At most two workers: an agent on every node must stay small; components that need more
/// parallelism for CPU-heavy work use spawn_blocking. Never more workers than the CPUs this
/// process may run on (its affinity mask and cgroup quota, as Go's GOMAXPROCS follows them): a
/// second worker on a one-CPU budget only adds wake-ups and context switches between the two.
fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(2))
}

async fn serve_until_signalled(args: RunArgs, settings: Settings, log: LogControl) -> ExitCode {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %args.path.display(),
        workers = tokio::runtime::Handle::current().metrics().num_workers(),
        "starting solder"
    );
    let self_registry = prometheus::Registry::new();
    if let Err(e) = self_metrics::register(&self_registry, &BuildInfo::current()) {
        tracing::error!(err = %e, "could not register self-metrics");
        return ExitCode::FAILURE;
    }
    let hostname = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".to_string());
    let host = Arc::new(HostInfo {
        http_listen_addr: args.listen_addr.clone(),
        http_memory_addr: args.memory_addr.clone(),
        hostname,
        self_registry: self_registry.clone(),
    });
    let on_logging = Arc::new(move |cfg: LoggingConfig| {
        if let Err(e) = log.apply(&cfg.level, &cfg.format) {
            tracing::warn!(err = %e, "ignoring logging block");
        }
    });
    let controller = Controller::new(ControllerOptions {
        config_path: args.path.clone(),
        storage_path: args.storage_path.clone(),
        min_stability: settings.stability,
        host,
        registry: registry(),
        self_registry,
        on_logging,
    });

    let (mut sighup, mut sigterm) = match (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(h), Ok(t)) => (h, t),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(err = %e, "could not install signal handlers");
            return ExitCode::FAILURE;
        }
    };

    let listener = match tokio::net::TcpListener::bind(&args.listen_addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(addr = %args.listen_addr, err = %e, "failed to listen for HTTP traffic");
            return ExitCode::FAILURE;
        }
    };
    let http_shutdown = CancellationToken::new();
    let api: Arc<dyn AdminApi> = controller.clone();
    let server = tokio::spawn(serve_with_options(
        listener,
        api,
        http_shutdown.clone(),
        ServerOptions {
            ui_path_prefix: args.ui_path_prefix.clone(),
        },
    ));
    tracing::info!(addr = %args.listen_addr, "now listening for http traffic");

    // A SIGTERM during a slow initial load (components binding ports, reading files) still
    // shuts down gracefully instead of being ignored until the load finishes.
    let loaded = tokio::select! {
        r = controller.load_initial() => Some(r),
        _ = sigterm.recv() => None,
        _ = tokio::signal::ctrl_c() => None,
    };
    match loaded {
        None => {
            tracing::info!("shutting down before the initial load completed");
            stop(
                &controller,
                &http_shutdown,
                server,
                settings.shutdown_deadline,
            )
            .await;
            return ExitCode::SUCCESS;
        }
        Some(Err(err)) => {
            let rendered = err.render();
            eprint!("{rendered}");
            if !rendered.ends_with('\n') {
                eprintln!();
            }
            eprintln!("Error: could not perform the initial load successfully");
            stop(
                &controller,
                &http_shutdown,
                server,
                settings.shutdown_deadline,
            )
            .await;
            return ExitCode::FAILURE;
        }
        Some(Ok(())) => {}
    }
    tracing::info!(path = %args.path.display(), "initial config loaded");

    loop {
        tokio::select! {
            _ = sighup.recv() => {
                tracing::info!("reload requested via SIGHUP");
                match controller.reload().await {
                    Ok(()) => tracing::info!("config reloaded"),
                    Err(err) => tracing::error!(err = %err, "failed to reload config"),
                }
            }
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("shutting down");
    stop(
        &controller,
        &http_shutdown,
        server,
        settings.shutdown_deadline,
    )
    .await;
    tracing::info!("shutdown complete");
    ExitCode::SUCCESS
}

async fn stop(
    controller: &Arc<Controller>,
    http_shutdown: &CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    deadline: Duration,
) {
    // Stop taking admin requests first so nothing reloads a graph that is being torn down.
    http_shutdown.cancel();
    match tokio::time::timeout(HTTP_DRAIN, server).await {
        Ok(Ok(Err(e))) => tracing::warn!(err = %e, "admin HTTP server stopped with an error"),
        Err(_) => tracing::warn!("admin HTTP server did not drain in time"),
        _ => {}
    }
    // The controller enforces the deadline itself; the outer bound is a safety net.
    if tokio::time::timeout(
        deadline + Duration::from_secs(1),
        controller.shutdown(deadline),
    )
    .await
    .is_err()
    {
        tracing::warn!(
            ?deadline,
            "components did not stop within the shutdown deadline"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn run_args(extra: &[&str]) -> RunArgs {
        let argv = ["solder", "run", "c.alloy"].iter().chain(extra.iter());
        match Cli::parse_from(argv).command {
            Some(Command::Run(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        let s = settings(&run_args(&[])).unwrap();
        assert_eq!(s.stability, Stability::GenerallyAvailable);
        assert_eq!(s.shutdown_deadline, Duration::from_secs(600));
    }

    #[test]
    fn unsupported_modes_fail_clearly() {
        let cases: [(&[&str], &str); 5] = [
            (&["--config.format=prometheus"], "not supported"),
            (&["--config.format=yaml"], "unknown --config.format"),
            (&["--cluster.enabled=true"], "clustering is not implemented"),
            (&["--stability.level=beta"], "invalid --stability.level"),
            (
                &["--feature.component-shutdown-deadline=10"],
                "missing unit",
            ),
        ];
        for (flags, want) in cases {
            let err = settings(&run_args(flags)).unwrap_err();
            assert!(err.contains(want), "{flags:?}: {err}");
        }
    }
}
