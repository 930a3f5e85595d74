//! Sleeping on a word of shared memory: Linux futexes, *not* process-private, so a writer in
//! another process can wake the reader.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, for at most `timeout` (or until woken; spurious
/// wake-ups happen — callers re-check their condition).
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call (borrowed); FUTEX_WAIT
    // only reads it and compares with `expected`; `ts` outlives the call. Without
    // FUTEX_PRIVATE_FLAG the kernel keys the wait on the physical page, so it works across
    // processes that map the same segment.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// Wakes every waiter sleeping on `word`.
pub fn wake(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned u32 (borrowed); FUTEX_WAKE does not access it beyond
    // hashing its address.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    #[test]
    fn a_wake_ends_a_wait_and_a_changed_word_does_not_sleep() {
        let word = Arc::new(AtomicU32::new(1));
        let w = word.clone();
        let sleeper = std::thread::spawn(move || {
            while w.load(Ordering::Acquire) == 1 {
                wait(&w, 1, Duration::from_secs(10));
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        word.store(0, Ordering::Release);
        wake(&word);
        sleeper.join().unwrap();
        // Word differs from `expected`: returns at once.
        wait(&word, 1, Duration::from_secs(10));
    }
}
