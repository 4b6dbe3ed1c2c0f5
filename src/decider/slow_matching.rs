//! `SlowMatching`: where the decisions whose pattern matching outgrows a quick first try
//! finish — a few threads of their own, at a lower CPU priority, so that they cannot take
//! the cores from the logins whose matching is quick.
//!
//! A decision is first tried on the async worker with a small step budget
//! ([`crate::decision::QUICK_MATCHING_STEPS`]); most are done then. One that is not is sent
//! here and made again with the whole `match_budget`. There are one thread fewer than
//! cores (at least one), each at nice [`NICE`]: however many logins meet expensive
//! patterns, one core stays with the async workers, and when the machine is busy the
//! kernel runs the quick logins first. Jobs wait in order; at most [`MAX_WAITING`] wait,
//! the others wait for a place. A job that panics is reported as such and the thread goes
//! on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};

use tokio::sync::{oneshot, Semaphore};

/// The nice value of the matching threads (the daemon's own is usually 0).
pub const NICE: i32 = 10;

/// Jobs that may be queued or running at once; more wait for a place.
pub const MAX_WAITING: usize = 4096;

type Job = Box<dyn FnOnce() + Send>;

/// Why a job gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum SlowMatchingError {
    #[error("the matching job panicked")]
    Panicked,
    #[error("the matching threads are gone")]
    Gone,
}

/// The threads and their queue. Dropping it ends the threads once the queue is empty.
#[derive(Debug)]
pub struct SlowMatching {
    jobs: Mutex<mpsc::Sender<Job>>,
    places: Semaphore,
    threads: usize,
}

impl SlowMatching {
    /// One thread fewer than the cores this process may use, at least one.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(1)
            .max(1)
    }

    /// Starts `threads` matching threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<SlowMatching> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = threads.max(1);
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("badclients-match-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        let Ok(job) = job else { return };
                        job();
                    }
                })?;
        }
        Ok(SlowMatching {
            jobs: Mutex::new(tx),
            places: Semaphore::new(MAX_WAITING),
            threads,
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on a matching thread and waits for its answer.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, SlowMatchingError> {
        let place = self
            .places
            .acquire()
            .await
            .map_err(|_| SlowMatchingError::Gone)?;
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(work)).map_err(|_| ());
            let _ = answer.send(result);
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(job),
            Err(poisoned) => poisoned.into_inner().send(job),
        };
        sent.map_err(|_| SlowMatchingError::Gone)?;
        let result = answered.await.map_err(|_| SlowMatchingError::Gone)?;
        drop(place);
        result.map_err(|()| SlowMatchingError::Panicked)
    }
}

/// Sets the calling thread's nice value to [`NICE`] (on Linux the nice value belongs to
/// the thread). Failing to is harmless: the thread runs at the daemon's priority.
fn lower_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}

/// The calling thread's nice value.
#[cfg(test)]
fn current_nice() -> i32 {
    // SAFETY: as above.
    unsafe {
        let tid = libc::gettid();
        libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_lowered_threads_and_a_panic_is_an_answer() {
        let pool = SlowMatching::start(2).unwrap();
        assert_eq!(pool.threads(), 2);
        let (name, nice) = pool
            .run(|| {
                let name = std::thread::current().name().map(str::to_owned);
                (name, current_nice())
            })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("badclients-match-"));
        // The test's own thread runs at nice 0 unless the test run was itself lowered.
        if current_nice() <= NICE {
            assert_eq!(nice, NICE);
        }
        let panicked = pool.run(|| -> u32 { panic!("a bug in a pattern") }).await;
        assert!(matches!(panicked, Err(SlowMatchingError::Panicked)));
        // The threads go on after a panic, and many jobs at once all get their answers.
        let answers = futures::future::join_all((0..100u64).map(|i| pool.run(move || i * 2))).await;
        let sum: u64 = answers.into_iter().map(Result::unwrap).sum();
        assert_eq!(sum, (0..100u64).map(|i| i * 2).sum::<u64>());
    }
}
