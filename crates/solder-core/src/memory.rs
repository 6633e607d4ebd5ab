//! The process allocator: its thresholds, and giving free memory back to the kernel.
//!
//! The OTLP path passes multi-MiB buffers around: request bodies (up to `max_recv_msg_size`,
//! 4 MiB by default), the batches they join into (8192 spans, ~6 MiB) and the gRPC exporter's
//! message buffer. Under glibc's defaults a block above 128 KiB is its own `mmap`, so each of
//! them is fresh memory that page-faults once per 4 KiB as it is written and is unmapped again
//! when freed. glibc raises that threshold by itself after a large free, but how far depends
//! on which buffer happens to be freed first: one allocation pattern took 97 page faults in
//! 8 s at 10,000 spans/s, a slightly different one 12,523 (+25% CPU), and at 80,000 spans/s
//! fixing the thresholds was worth ~8% of the agent's CPU.
//!
//! Fixed thresholds keep freed blocks in the heap, though, where RSS still counts them, and
//! `otelcol.processor.memory_limiter` judges RSS. So, as the Collector's limiter runs the Go
//! garbage collector when usage is above its soft limit, ours hands the heap's free pages back
//! first ([`release_free_memory`]) and judges what is left.
//!
//! Both are no-ops where the C library is not glibc.

/// Blocks below this come from the heap rather than from their own `mmap`: above the largest
/// request body and batch the pipelines pass around by default.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 8 << 20;
/// Free memory at the top of the heap beyond this goes back to the kernel at once: room for a
/// few batches' worth of buffers to be reused without faulting them in again.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 32 << 20;

/// Fixes the allocator's thresholds (see the module docs). Call once, early in `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters, under the allocator's own lock; it
    // reads and writes no memory of ours, and a value it rejects leaves the default in place.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Returns the free pages of every heap to the kernel (`malloc_trim(0)`), so the resident set
/// is the memory in use. Costs a walk over the free lists: for when memory is short, not for
/// every request.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` releases only memory the allocator holds as free (under its own
    // locks); blocks in use, ours included, are not touched.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    fn rss_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
        kib.unwrap_or(0) * 1024
    }

    #[test]
    fn freed_heap_blocks_stay_resident_until_released() {
        tune_allocator();
        const BLOCK: usize = 1 << 20;
        // 1 MiB blocks now come from the heap; a small block allocated after them keeps the
        // heap's top from being trimmed when they are freed.
        let blocks: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i | 1; BLOCK]).collect();
        #[allow(clippy::useless_vec)] // the point is a heap block
        let fence = vec![7u8; 64];
        let before_free = rss_bytes();
        drop(blocks);
        let freed = rss_bytes();
        release_free_memory();
        let released = rss_bytes();
        assert_eq!(fence.len(), 64);
        assert!(
            freed + (16 << 20) > before_free,
            "blocks below the mmap threshold should stay in the heap when freed \
             ({before_free} -> {freed} bytes)"
        );
        assert!(
            released + (32 << 20) < freed,
            "releasing gave back too little ({freed} -> {released} bytes)"
        );
    }
}
