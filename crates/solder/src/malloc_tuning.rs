//! glibc malloc thresholds for an agent that passes multi-MiB buffers around.
//!
//! An OTLP request body (up to `max_recv_msg_size`, 4 MiB by default) and a batch (8192 spans,
//! ~6 MiB) are allocated and freed over and over. Under glibc's defaults anything above 128 KiB
//! is its own `mmap`, so each such buffer is fresh memory that page-faults once per 4 KiB page
//! as it is written and is unmapped again when freed. glibc raises that threshold by itself
//! after the first large free, but only as a side effect of which buffer happens to be freed
//! first: with one allocation pattern the agent took 97 page faults in 8 s at 10,000 spans/s,
//! with a slightly different one 12,523 (every request body faulted in afresh, +25% CPU).
//! Fixing both thresholds at what the warmed-up dynamic scheme would reach for these sizes
//! makes that independent of the order of frees: blocks below 8 MiB come from the heap and
//! up to 16 MiB of free space stays mapped at a heap's top instead of being returned at once.

/// Requests below this size are served from the heap rather than by their own `mmap`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 8 << 20;
/// Free memory at the top of a heap beyond this is returned to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 16 << 20;

/// Sets the thresholds. Call first thing in `run`, before any thread is started.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters (it takes the arena lock itself);
    // it touches no memory of ours, and a value it rejects leaves the default in place.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
