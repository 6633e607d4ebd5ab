//! Self-metrics the binary owns (spec §5.1): `alloy_build_info`, the standard `process_*`
//! family, and the `alloy_resources_*` family the "Alloy / Resources" dashboard reads.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, IntGaugeVec, Opts, Registry};

/// Facts `alloy_build_info` reports. Solder is not built with Go, so the `go*` labels carry
/// the Rust equivalents: `goversion` is the rustc version, `goos`/`goarch` the target spelled
/// the way Go spells it (so `linux`/`amd64` dashboards keep matching).
#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
    pub branch: &'static str,
    pub rust_version: &'static str,
    pub os: &'static str,
    pub arch: &'static str,
    pub tags: &'static str,
}

impl BuildInfo {
    pub fn current() -> BuildInfo {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            revision: option_env!("SOLDER_REVISION").unwrap_or("unknown"),
            branch: option_env!("SOLDER_BRANCH").unwrap_or("unknown"),
            rust_version: option_env!("SOLDER_RUSTC_VERSION").unwrap_or("unknown"),
            os: std::env::consts::OS,
            arch: go_arch(std::env::consts::ARCH),
            tags: "builtinassets",
        }
    }
}

/// Go's GOARCH name for a Rust target architecture.
fn go_arch(rust_arch: &'static str) -> &'static str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Register every binary-owned self-metric in `registry`.
pub fn register(registry: &Registry, build: &BuildInfo) -> prometheus::Result<()> {
    let info = IntGaugeVec::new(
        Opts::new(
            "alloy_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which alloy was built, and the goos and goarch for the build.",
        ),
        &["version", "revision", "branch", "goversion", "goos", "goarch", "tags"],
    )?;
    info.with_label_values(&[
        build.version,
        build.revision,
        build.branch,
        build.rust_version,
        build.os,
        build.arch,
        build.tags,
    ])
    .set(1);
    registry.register(Box::new(info))?;

    #[cfg(target_os = "linux")]
    {
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        registry.register(Box::new(ResourcesCollector::new()?))?;
    }
    Ok(())
}

/// `alloy_resources_*`, read from `/proc` at scrape time. CPU is fractional seconds (the
/// `process_*` collector truncates it to whole seconds).
#[cfg(target_os = "linux")]
struct ResourcesCollector {
    cpu: prometheus::Counter,
    rss: Gauge,
    vsize: Gauge,
    start: Gauge,
    rx: prometheus::Counter,
    tx: prometheus::Counter,
    descs: Vec<Desc>,
}

#[cfg(target_os = "linux")]
impl ResourcesCollector {
    fn new() -> prometheus::Result<Self> {
        let cpu = prometheus::Counter::new(
            "alloy_resources_process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        )?;
        let rss = Gauge::new(
            "alloy_resources_process_resident_memory_bytes",
            "Current resident memory size in bytes.",
        )?;
        let vsize = Gauge::new(
            "alloy_resources_process_virtual_memory_bytes",
            "Current virtual memory size in bytes.",
        )?;
        let start = Gauge::new(
            "alloy_resources_process_start_time_seconds",
            "Start time of the process since Unix epoch in seconds.",
        )?;
        let rx = prometheus::Counter::new(
            "alloy_resources_machine_rx_bytes_total",
            "Total bytes, host-wide, received by all network interfaces.",
        )?;
        let tx = prometheus::Counter::new(
            "alloy_resources_machine_tx_bytes_total",
            "Total bytes, host-wide, sent by all network interfaces.",
        )?;
        let descs = [
            &cpu.desc(),
            &rss.desc(),
            &vsize.desc(),
            &start.desc(),
            &rx.desc(),
            &tx.desc(),
        ]
        .iter()
        .flat_map(|d| d.iter().map(|x| (*x).clone()))
        .collect();
        Ok(ResourcesCollector {
            cpu,
            rss,
            vsize,
            start,
            rx,
            tx,
            descs,
        })
    }

    fn refresh(&self) {
        if let Ok(stat) = procfs::process::Process::myself().and_then(|p| p.stat()) {
            let ticks = procfs::ticks_per_second().max(1) as f64;
            let cpu = (stat.utime + stat.stime) as f64 / ticks;
            set_counter(&self.cpu, cpu);
            self.rss
                .set((stat.rss.saturating_mul(procfs::page_size())) as f64);
            self.vsize.set(stat.vsize as f64);
            if let Ok(boot) = procfs::boot_time_secs() {
                self.start.set(boot as f64 + stat.starttime as f64 / ticks);
            }
        }
        if let Ok(devs) = procfs::net::dev_status() {
            let (rx, tx) = devs.values().fold((0u64, 0u64), |(r, t), d| {
                (
                    r.saturating_add(d.recv_bytes),
                    t.saturating_add(d.sent_bytes),
                )
            });
            set_counter(&self.rx, rx as f64);
            set_counter(&self.tx, tx as f64);
        }
    }
}

/// Move a counter up to an absolute reading taken from the kernel.
#[cfg(target_os = "linux")]
fn set_counter(c: &prometheus::Counter, value: f64) {
    let delta = value - c.get();
    if delta > 0.0 {
        c.inc_by(delta);
    }
}

#[cfg(target_os = "linux")]
impl Collector for ResourcesCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        let mut out = Vec::with_capacity(6);
        out.extend(self.cpu.collect());
        out.extend(self.rss.collect());
        out.extend(self.vsize.collect());
        out.extend(self.start.collect());
        out.extend(self.rx.collect());
        out.extend(self.tx.collect());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gathered(reg: &Registry) -> Vec<String> {
        reg.gather().iter().map(|f| f.name().to_string()).collect()
    }

    #[test]
    fn build_info_has_alloy_labels() {
        let reg = Registry::new();
        register(&reg, &BuildInfo::current()).unwrap();
        let fams = reg.gather();
        let info = fams
            .iter()
            .find(|f| f.name() == "alloy_build_info")
            .unwrap();
        let m = &info.get_metric()[0];
        let mut labels: Vec<&str> = m.get_label().iter().map(|l| l.name()).collect();
        labels.sort_unstable();
        assert_eq!(
            labels,
            [
                "branch",
                "goarch",
                "goos",
                "goversion",
                "revision",
                "tags",
                "version"
            ]
        );
        assert_eq!(m.get_gauge().get_value(), 1.0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_and_resources_families_present() {
        let reg = Registry::new();
        register(&reg, &BuildInfo::current()).unwrap();
        let names = gathered(&reg);
        for want in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_start_time_seconds",
            "process_open_fds",
            "process_max_fds",
            "alloy_resources_process_cpu_seconds_total",
            "alloy_resources_process_resident_memory_bytes",
            "alloy_resources_process_virtual_memory_bytes",
            "alloy_resources_process_start_time_seconds",
            "alloy_resources_machine_rx_bytes_total",
            "alloy_resources_machine_tx_bytes_total",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "missing {want} in {names:?}"
            );
        }
        let fams = reg.gather();
        let rss = fams
            .iter()
            .find(|f| f.name() == "alloy_resources_process_resident_memory_bytes")
            .unwrap();
        assert!(rss.get_metric()[0].get_gauge().get_value() > 0.0);
    }

    #[test]
    fn go_arch_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("riscv64"), "riscv64");
    }
}
