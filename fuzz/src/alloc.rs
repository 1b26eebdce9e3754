//! A global allocator that counts, per thread, the allocations and the bytes
//! requested, so a harness can assert that a call allocated nothing (or
//! nothing proportional to a length a peer declared).
//!
//! The counters are `const`-initialised thread-locals of `Cell`s: reading
//! them never allocates, so they are safe to touch from inside the
//! allocator, and parallel test threads do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// [`System`], counting.
pub struct Counting;

fn note(size: usize) {
    // `try_with`: during thread teardown the slots may be gone; then the
    // allocation is simply not counted.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|b| b.set(b.get() + size as u64));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made on this thread so far: (count, bytes requested).
pub fn snapshot() -> (u64, u64) {
    (COUNT.with(Cell::get), BYTES.with(Cell::get))
}

/// Runs `f` and returns its result with the allocations it made on this
/// thread: (count, bytes requested).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (c0, b0) = snapshot();
    let out = f();
    let (c1, b1) = snapshot();
    (out, c1 - c0, b1 - b0)
}
