//! The atomics and cells the ring is written against: std's normally, loom's under
//! `RUSTFLAGS="--cfg loom"`, so the same algorithm is model-checked on a heap instance.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// A cell whose accesses loom can track (`with` / `with_mut`, as loom's `UnsafeCell`).
#[cfg(loom)]
pub use loom::cell::UnsafeCell;

/// A cell whose accesses loom can track (`with` / `with_mut`, as loom's `UnsafeCell`).
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer for reading.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
