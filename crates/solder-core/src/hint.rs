//! CPU hints for hot loops.

/// Starts loading the cache line holding `p` into every cache level, without waiting for it.
///
/// A scrape walks one target's cached series in order, and each of them points to a label set
/// elsewhere on the heap: hundreds of targets later that memory has left the CPU caches, and a
/// miss per series (about a tenth of the time a sample takes) is what the loop would otherwise
/// wait for. Issued a few series ahead, the load overlaps with the work on the ones before.
#[inline]
pub fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 never dereferences in the language's sense: it cannot fault, does not
    // change memory and does not affect what any later load returns, whatever the address.
    // The `unsafe` is only because the intrinsic carries a target feature (SSE), which every
    // x86_64 target has.
    #[allow(unsafe_code)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
