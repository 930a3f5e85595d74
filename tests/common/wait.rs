//! The one wait of the tests: poll a check until it holds, or fail with what it last saw.
//! Self-contained (tokio only), so the hub's tests include it too.

use std::time::Duration;

/// Polls `check` every 5 ms until it returns `Ok`, and panics after `limit` (of paused,
/// auto-advancing time where the test pauses it) with `what` and the last `Err` — so a broken
/// test fails with what it saw instead of hanging. Every wait of the tests is this loop.
pub async fn poll_until<T>(
    limit: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let step = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            waited < limit,
            "timed out after {limit:?} waiting for {what}: {last}"
        );
        tokio::time::sleep(step).await;
        waited += step;
    }
}
