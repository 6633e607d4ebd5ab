//! Where the memory limiter reads memory from. The Collector compares the Go heap; Solder has no
//! garbage-collected heap, so it compares the process's resident set size, the figure an OOM
//! killer and a cgroup limit act on.

use std::io;
use std::path::Path;

/// Reports the memory the process currently uses. Injectable so tests can drive the limiter.
pub trait MemoryProbe: Send + Sync {
    fn used_bytes(&self) -> io::Result<u64>;

    /// Hands memory the process holds but does not use back to the system, before usage
    /// above the soft limit is acted on (the Collector runs the garbage collector there).
    fn reclaim(&self) {}
}

/// Reads `VmRSS` from `/proc/self/status`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessRss;

impl MemoryProbe for ProcessRss {
    fn used_bytes(&self) -> io::Result<u64> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        parse_kib_field(&status, "VmRSS:").ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc/self/status")
        })
    }

    /// Freed heap blocks stay resident under the allocator's thresholds
    /// (`solder_core::memory`); they are not usage.
    fn reclaim(&self) {
        solder_core::memory::release_free_memory();
    }
}

/// Finds `<name> <n> kB` in a `/proc` status-style file and returns bytes.
fn parse_kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let mut words = line[name.len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => n.checked_mul(1024),
        Some(_) => None,
    }
}

/// cgroup v1 reports "no limit" as this (page-aligned `i64::MAX`), like the Collector checks.
const CGROUP_V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;

/// The memory the percentage limits are taken of: the cgroup limit when one is set, else the
/// machine's total memory (`MemTotal`), as the Collector's `iruntime.TotalMemory` does.
pub fn total_memory() -> io::Result<u64> {
    total_memory_under(Path::new("/"))
}

/// [`total_memory`] with every path below `root` (tests point it at a fake tree).
pub fn total_memory_under(root: &Path) -> io::Result<u64> {
    if let Some(limit) = cgroup_limit(root) {
        return Ok(limit);
    }
    let meminfo = std::fs::read_to_string(root.join("proc/meminfo"))?;
    parse_kib_field(&meminfo, "MemTotal:")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no MemTotal in /proc/meminfo"))
}

/// The memory limit of this process's cgroup, v2 first, then v1; `None` when unlimited or
/// unknown.
fn cgroup_limit(root: &Path) -> Option<u64> {
    let cgroups = std::fs::read_to_string(root.join("proc/self/cgroup")).ok()?;
    // v2: the unified hierarchy line is "0::<path>".
    if let Some(path) = cgroups.lines().find_map(|l| l.strip_prefix("0::")) {
        let rel = path.trim().trim_start_matches('/');
        let dir = root.join("sys/fs/cgroup").join(rel);
        for candidate in [
            dir.join("memory.max"),
            root.join("sys/fs/cgroup/memory.max"),
        ] {
            if let Ok(text) = std::fs::read_to_string(&candidate) {
                return parse_limit(&text);
            }
        }
    }
    // v1: "N:memory:<path>" (or with other controllers joined by commas).
    let v1_path = cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.trim().trim_start_matches('/').to_string())
    })?;
    let base = root.join("sys/fs/cgroup/memory");
    for candidate in [
        base.join(&v1_path).join("memory.limit_in_bytes"),
        base.join("memory.limit_in_bytes"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&candidate) {
            return parse_limit(&text);
        }
    }
    None
}

fn parse_limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    let n: u64 = text.parse().ok()?;
    (n < CGROUP_V1_UNLIMITED).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_from_proc_in_bytes() {
        let rss = ProcessRss.used_bytes().unwrap();
        // A running test binary uses more than a MiB and less than a TiB.
        assert!(rss > 1 << 20 && rss < 1 << 40, "rss {rss}");
    }

    #[test]
    fn kib_fields_are_converted_to_bytes() {
        let text = "Name:\tx\nVmRSS:\t   2048 kB\nVmSwap: 0 kB\n";
        assert_eq!(parse_kib_field(text, "VmRSS:"), Some(2048 * 1024));
        assert_eq!(parse_kib_field(text, "VmHWM:"), None);
    }

    fn fake_root(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, body) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        dir
    }

    const MEMINFO: &str = "MemTotal:       16384 kB\nMemFree: 1 kB\n";

    #[test]
    fn cgroup_v2_limit_wins_over_meminfo() {
        let root = fake_root(&[
            ("proc/meminfo", MEMINFO),
            ("proc/self/cgroup", "0::/app.slice\n"),
            ("sys/fs/cgroup/app.slice/memory.max", "1048576\n"),
        ]);
        assert_eq!(total_memory_under(root.path()).unwrap(), 1_048_576);
    }

    #[test]
    fn unlimited_cgroups_fall_back_to_meminfo() {
        let v2 = fake_root(&[
            ("proc/meminfo", MEMINFO),
            ("proc/self/cgroup", "0::/\n"),
            ("sys/fs/cgroup/memory.max", "max\n"),
        ]);
        assert_eq!(total_memory_under(v2.path()).unwrap(), 16384 * 1024);
        let v1 = fake_root(&[
            ("proc/meminfo", MEMINFO),
            ("proc/self/cgroup", "4:memory:/\n2:cpu,cpuacct:/\n"),
            (
                "sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
        ]);
        assert_eq!(total_memory_under(v1.path()).unwrap(), 16384 * 1024);
    }

    #[test]
    fn cgroup_v1_limit_is_used() {
        let root = fake_root(&[
            ("proc/meminfo", MEMINFO),
            ("proc/self/cgroup", "7:memory:/docker/abc\n"),
            (
                "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                "2097152\n",
            ),
        ]);
        assert_eq!(total_memory_under(root.path()).unwrap(), 2_097_152);
    }
}
