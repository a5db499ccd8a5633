//! A counting global allocator: the system allocator, plus counts of allocations and
//! bytes allocated while counting is switched on (the memory phase). When off, each
//! allocation costs one relaxed load more than the system allocator's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The system allocator, counting.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

fn count(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only read the
// layout.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation counts as one allocation of the new size.
        count(new_size);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and bytes allocated since counting was switched on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls of `alloc`, `alloc_zeroed` and `realloc`.
    pub allocs: u64,
    /// Bytes asked for by those calls.
    pub bytes: u64,
}

/// Resets the counters and switches counting on.
pub fn start() {
    ALLOCS.store(0, Ordering::Relaxed);
    BYTES.store(0, Ordering::Relaxed);
    ON.store(true, Ordering::SeqCst);
}

/// Switches counting off and returns the counts since [`start`].
pub fn stop() -> Counts {
    ON.store(false, Ordering::SeqCst);
    Counts {
        allocs: ALLOCS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The binary's global allocator (main.rs) is this one, in tests too.

    #[test]
    fn counts_allocations_while_on() {
        start();
        let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(1000));
        let c = stop();
        drop(v);
        // Other test threads may allocate meanwhile: at least ours is counted.
        assert!(c.allocs >= 1 && c.bytes >= 1000, "{c:?}");
        let before = stop();
        let w: Vec<u8> = std::hint::black_box(Vec::with_capacity(1000));
        drop(w);
        assert_eq!(stop(), before, "counted while off");
    }
}
