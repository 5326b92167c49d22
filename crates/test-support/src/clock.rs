//! Waiting for the clock, for tests of what depends on a file's age.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Sleeps until the wall clock's whole seconds are past `ctime + settle`
/// with a second to spare: a file changed at `ctime` (seconds since the
/// epoch) then counts as settled however the code under test rounds.
pub fn wait_until_older_than(ctime: i64, settle: Duration) {
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    while now() <= ctime + settle.as_secs() as i64 + 1 {
        std::thread::sleep(Duration::from_millis(100));
    }
}
