//! CPU time of the calling thread: what the hostile-input tests bound.
//! Wall time also counts the moments a busy machine gives to other
//! processes, so a bound on it fails by luck; the CPU time a parser spends
//! on a pathological input does not depend on who else is running.

use std::time::Duration;

/// Started by [`CpuTimer::start`]; reads the thread's CPU time since then.
pub struct CpuTimer(Duration);

impl CpuTimer {
    pub fn start() -> CpuTimer {
        CpuTimer(thread_cpu_time())
    }

    pub fn elapsed(&self) -> Duration {
        thread_cpu_time().saturating_sub(self.0)
    }
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and an out-parameter we own.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
