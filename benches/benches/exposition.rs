#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Exposition parser throughput, in samples per second on one core.
//!
//! Two generated payloads: a node_exporter-like page (~1,500 series, 2–6 labels, HELP/TYPE
//! for every family, histograms and summaries) and a kube-state-metrics-like page (~100k series
//! of ~8 labels each). Each is measured two ways:
//! * `parse` — what the scrape loop pays per line when the series is already in its cache
//!   (validate the line, read `series_key`, value and timestamp);
//! * `parse+labels` — additionally decoding every label pair (a cache miss);
//! * `raw` — the scrape-cache fast path (`Parser::next_raw`): the series key is delimited but
//!   not validated, which is what a cache hit needs (the same bytes were validated before);
//! * `raw+validate` — the fast path followed by `Parser::validate` on every line (all misses).
//!
//! `SOLDER_EXPOSITION_ONCE=<n>` skips criterion and parses each payload `n` times per variant
//! through `#[inline(never)]` drivers, for instruction counts under
//! `valgrind --tool=callgrind --toggle-collect='*drive_*'` (stable on a loaded machine).
//!
//! Timing is this thread's CPU time (from `/proc/thread-self/schedstat`), not wall time: the
//! build machines are shared and heavily loaded, and "samples/s on one core" is what the target
//! is about. Where that file is missing the bench falls back to wall time.
use std::fmt::Write as _;
use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
use solder_prometheus::exposition::{Entry, Format, Parser, RawEntry};

/// Tiny deterministic generator so the payloads are identical on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A value written the way Go's `strconv.FormatFloat(v, 'g', -1, 64)` tends to look.
    fn value(&mut self) -> String {
        match self.below(6) {
            0 => format!("{}", self.below(100_000)),
            1 => format!("{}.{}", self.below(10_000), self.below(1000)),
            2 => format!(
                "{}e+{:02}",
                1.0 + self.below(8_999_999) as f64 / 1e6,
                6 + self.below(8)
            ),
            3 => format!(
                "{}e-{:02}",
                1.0 + self.below(89_999) as f64 / 1e4,
                1 + self.below(8)
            ),
            4 => "0".to_owned(),
            _ => format!("{}", self.below(4_000_000_000)),
        }
    }
}

fn family(out: &mut String, name: &str, typ: &str, help: &str) {
    writeln!(out, "# HELP {name} {help}").unwrap();
    writeln!(out, "# TYPE {name} {typ}").unwrap();
}

fn node_exporter_like() -> String {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::new();
    family(
        &mut out,
        "go_gc_duration_seconds",
        "summary",
        "A summary of the pause duration of garbage collection cycles.",
    );
    for q in ["0", "0.25", "0.5", "0.75", "1"] {
        writeln!(
            out,
            "go_gc_duration_seconds{{quantile=\"{q}\"}} {}",
            r.value()
        )
        .unwrap();
    }
    writeln!(
        out,
        "go_gc_duration_seconds_sum {}\ngo_gc_duration_seconds_count {}",
        r.value(),
        r.value()
    )
    .unwrap();
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    family(
        &mut out,
        "node_cpu_seconds_total",
        "counter",
        "Seconds the CPUs spent in each mode.",
    );
    for cpu in 0..32 {
        for mode in modes {
            writeln!(
                out,
                "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}",
                r.value()
            )
            .unwrap();
        }
    }
    let devices: Vec<String> = (0..12).map(|i| format!("nvme{}n1", i)).collect();
    for metric in [
        "node_disk_io_time_seconds_total",
        "node_disk_read_bytes_total",
        "node_disk_reads_completed_total",
        "node_disk_write_time_seconds_total",
        "node_disk_written_bytes_total",
        "node_disk_writes_completed_total",
        "node_disk_io_now",
        "node_disk_discards_completed_total",
    ] {
        family(
            &mut out,
            metric,
            "counter",
            "Disk statistic from /proc/diskstats.",
        );
        for d in &devices {
            writeln!(out, "{metric}{{device=\"{d}\"}} {}", r.value()).unwrap();
        }
    }
    let mounts = [
        "/",
        "/boot",
        "/var",
        "/home",
        "/run",
        "/run/lock",
        "/sys/fs/cgroup",
        "/var/lib/docker",
        "/data",
        "/tmp",
    ];
    for metric in [
        "node_filesystem_avail_bytes",
        "node_filesystem_free_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_files",
        "node_filesystem_files_free",
        "node_filesystem_readonly",
        "node_filesystem_device_error",
    ] {
        family(&mut out, metric, "gauge", "Filesystem statistic.");
        for (i, m) in mounts.iter().enumerate() {
            writeln!(
                out,
                "{metric}{{device=\"/dev/sda{i}\",fstype=\"ext4\",mountpoint=\"{m}\"}} {}",
                r.value()
            )
            .unwrap();
        }
    }
    let ifaces = [
        "eth0",
        "eth1",
        "lo",
        "docker0",
        "veth1a2b3c",
        "veth4d5e6f",
        "cni0",
        "flannel.1",
    ];
    for metric in [
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_network_receive_packets_total",
        "node_network_transmit_packets_total",
        "node_network_receive_errs_total",
        "node_network_transmit_errs_total",
        "node_network_receive_drop_total",
        "node_network_transmit_drop_total",
        "node_network_receive_multicast_total",
        "node_network_up",
        "node_network_mtu_bytes",
        "node_network_speed_bytes",
    ] {
        family(&mut out, metric, "counter", "Network device statistic.");
        for i in ifaces {
            writeln!(out, "{metric}{{device=\"{i}\"}} {}", r.value()).unwrap();
        }
    }
    family(
        &mut out,
        "node_network_info",
        "gauge",
        "Non-numeric data from /sys/class/net/<iface>.",
    );
    for i in ifaces {
        writeln!(out, "node_network_info{{address=\"02:42:ac:11:00:0{}\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"{i}\",duplex=\"full\",ifalias=\"\",operstate=\"up\"}} 1", r.below(10)).unwrap();
    }
    // Histograms: per-handler request durations with 12 buckets.
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ];
    family(
        &mut out,
        "promhttp_request_duration_seconds",
        "histogram",
        "Request latencies.",
    );
    for h in [
        "/metrics",
        "/",
        "/debug/pprof",
        "/healthz",
        "/api/v1/query",
        "/api/v1/query_range",
    ] {
        for code in ["200", "500"] {
            for le in les {
                writeln!(out, "promhttp_request_duration_seconds_bucket{{code=\"{code}\",handler=\"{h}\",method=\"get\",le=\"{le}\"}} {}", r.value()).unwrap();
            }
            writeln!(out, "promhttp_request_duration_seconds_sum{{code=\"{code}\",handler=\"{h}\",method=\"get\"}} {}", r.value()).unwrap();
            writeln!(out, "promhttp_request_duration_seconds_count{{code=\"{code}\",handler=\"{h}\",method=\"get\"}} {}", r.value()).unwrap();
        }
    }
    // Many gauge families without labels (node_memory_*, node_vmstat_*, ...).
    for i in 0..420 {
        let kind = [
            "node_memory_",
            "node_vmstat_",
            "node_netstat_",
            "node_sockstat_",
        ][i % 4];
        let name = format!("{kind}field_{i}_bytes");
        family(&mut out, &name, "gauge", "Memory information field.");
        writeln!(out, "{name} {}", r.value()).unwrap();
    }
    // Hardware monitoring: 5 labels.
    family(
        &mut out,
        "node_hwmon_temp_celsius",
        "gauge",
        "Hardware monitor for temperature (input).",
    );
    for chip in 0..10 {
        for sensor in 0..16 {
            writeln!(out, "node_hwmon_temp_celsius{{chip=\"platform_coretemp_{chip}\",chip_name=\"coretemp\",sensor=\"temp{sensor}\",label=\"core_{sensor}\",instance=\"host-{chip}\"}} {}", r.value()).unwrap();
        }
    }
    family(&mut out, "node_systemd_unit_state", "gauge", "Systemd unit");
    for unit in 0..60 {
        for state in ["activating", "active", "deactivating", "failed", "inactive"] {
            writeln!(out, "node_systemd_unit_state{{name=\"service-{unit}.service\",state=\"{state}\",type=\"simple\"}} {}", r.below(2)).unwrap();
        }
    }
    out
}

fn kube_state_metrics_like() -> String {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = String::new();
    let families = [
        ("kube_pod_container_status_running", "gauge"),
        ("kube_pod_container_status_restarts_total", "counter"),
        ("kube_pod_container_resource_requests", "gauge"),
        ("kube_pod_container_resource_limits", "gauge"),
        ("kube_pod_container_info", "gauge"),
        ("kube_pod_container_status_ready", "gauge"),
        ("kube_pod_container_status_waiting", "gauge"),
        ("kube_pod_container_status_terminated", "gauge"),
        ("kube_pod_container_state_started", "gauge"),
        (
            "kube_pod_container_status_last_terminated_exitcode",
            "gauge",
        ),
    ];
    let pods = 10_000;
    for (name, typ) in families {
        family(
            &mut out,
            name,
            typ,
            "Kubernetes pod container state, see kube-state-metrics docs.",
        );
        for p in 0..pods {
            let ns = p % 97;
            let uid = format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                r.next() as u32,
                r.below(65536),
                r.below(65536),
                r.below(65536),
                r.next() & 0xffff_ffff_ffff
            );
            writeln!(
                out,
                "{name}{{namespace=\"namespace-{ns}\",pod=\"deployment-{p}-7d9f8c6b5-{:05x}\",uid=\"{uid}\",container=\"app-{}\",node=\"ip-10-0-{}-{}.ec2.internal\",resource=\"cpu\",unit=\"core\",job=\"kube-state-metrics\"}} {}",
                r.below(1 << 20),
                p % 3,
                r.below(256),
                r.below(256),
                r.value()
            )
            .unwrap();
        }
    }
    out
}

fn count_samples(body: &str) -> u64 {
    Parser::new(body, Format::PrometheusText004)
        .filter(|e| matches!(e, Ok(Entry::Series(_))))
        .count() as u64
}

fn parse_only(body: &str) -> f64 {
    let mut sum = 0.0;
    let mut key_len = 0usize;
    for entry in Parser::new(body, Format::PrometheusText004) {
        if let Entry::Series(s) = entry.unwrap() {
            sum += s.value;
            key_len += s.series_key.len();
        }
    }
    sum + key_len as f64
}

fn parse_with_labels(body: &str) -> f64 {
    let mut sum = 0.0;
    let mut label_bytes = 0usize;
    for entry in Parser::new(body, Format::PrometheusText004) {
        if let Entry::Series(s) = entry.unwrap() {
            sum += s.value;
            label_bytes += s.name.len();
            for (k, v) in s.labels.iter() {
                label_bytes += k.len() + v.len();
            }
        }
    }
    sum + label_bytes as f64
}

fn parse_raw(body: &str) -> f64 {
    let mut sum = 0.0;
    let mut key_len = 0usize;
    let mut p = Parser::new(body, Format::PrometheusText004);
    while let Some(entry) = p.next_raw() {
        if let RawEntry::Series(s) = entry.unwrap() {
            sum += s.value;
            key_len += s.series_key.len();
        }
    }
    sum + key_len as f64
}

fn parse_raw_validate(body: &str) -> f64 {
    let mut sum = 0.0;
    let mut len = 0usize;
    let mut p = Parser::new(body, Format::PrometheusText004);
    while let Some(entry) = p.next_raw() {
        if let RawEntry::Series(raw) = entry.unwrap() {
            let s = p.validate(&raw).unwrap();
            sum += s.value;
            len += s.name.len() + s.labels.raw().len();
        }
    }
    sum + len as f64
}

#[inline(never)]
fn drive_parse(body: &str, n: usize) -> f64 {
    (0..n).map(|_| parse_only(black_box(body))).sum()
}

#[inline(never)]
fn drive_labels(body: &str, n: usize) -> f64 {
    (0..n).map(|_| parse_with_labels(black_box(body))).sum()
}

#[inline(never)]
fn drive_raw(body: &str, n: usize) -> f64 {
    (0..n).map(|_| parse_raw(black_box(body))).sum()
}

#[inline(never)]
fn drive_raw_validate(body: &str, n: usize) -> f64 {
    (0..n).map(|_| parse_raw_validate(black_box(body))).sum()
}

/// Callgrind mode: run each variant `n` times and print the sample counts.
fn run_once(n: usize) {
    for (label, body) in [
        ("node_exporter", node_exporter_like()),
        ("kube_state_metrics", kube_state_metrics_like()),
    ] {
        let samples = count_samples(&body);
        let r = drive_parse(&body, n)
            + drive_labels(&body, n)
            + drive_raw(&body, n)
            + drive_raw_validate(&body, n);
        println!("{label}: {samples} samples x {n} (checksum {r})");
    }
}

/// CPU time consumed by the current thread, in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    // First field of schedstat: time spent on the CPU, in ns.
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or_else(|| {
            START
                .get_or_init(std::time::Instant::now)
                .elapsed()
                .as_nanos() as u64
        })
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e-3, "µs")
        } else {
            (1e-6, "ms")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iter = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
        };
        // values are ns per iteration → elements per CPU-second.
        let _ = typical;
        values
            .iter_mut()
            .for_each(|v| *v = per_iter * 1e9 / *v / 1e6);
        "Melem/cpu-s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench_payload(c: &mut Criterion<ThreadCpuTime>, label: &str, body: &str) {
    let samples = count_samples(body);
    eprintln!("{label}: {samples} samples, {} bytes", body.len());
    let mut g = c.benchmark_group(format!("exposition/{label}"));
    g.throughput(Throughput::Elements(samples));
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("parse", |b| b.iter(|| parse_only(black_box(body))));
    g.bench_function("parse+labels", |b| {
        b.iter(|| parse_with_labels(black_box(body)))
    });
    g.bench_function("raw", |b| b.iter(|| parse_raw(black_box(body))));
    g.bench_function("raw+validate", |b| {
        b.iter(|| parse_raw_validate(black_box(body)))
    });
    g.finish();
}

fn exposition(c: &mut Criterion<ThreadCpuTime>) {
    bench_payload(c, "node_exporter", &node_exporter_like());
    bench_payload(c, "kube_state_metrics", &kube_state_metrics_like());
}

criterion_group! {
    name = benches;
    // Few, long, equal samples: the scheduler updates a thread's CPU time only at ticks.
    config = Criterion::default().with_measurement(ThreadCpuTime).sample_size(10);
    targets = exposition
}
fn main() {
    if let Some(n) = std::env::var("SOLDER_EXPOSITION_ONCE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        run_once(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
