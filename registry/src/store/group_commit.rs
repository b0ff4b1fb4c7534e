//! Group commit: writers that committed a transaction wait until a flush
//! that **started after their commit** has completed. A dedicated flusher
//! thread runs one `flush()` for everybody who is waiting, so N concurrent
//! writers cost one fsync, not N.
//!
//! Tickets are a monotonically increasing counter: a writer takes ticket
//! `t = ++requested` after committing; the flusher snapshots
//! `target = requested` *before* starting a flush, so every ticket `<= target`
//! was committed before that flush began; when it ends, `completed = target`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::StoreError;

/// What the flusher calls.
pub(crate) type FlushFn = Box<dyn FnMut() -> Result<(), String> + Send>;

#[derive(Debug, Default)]
struct State {
    requested: u64,
    completed: u64,
    /// Ticket ranges `(lo, hi]` whose flush failed, newest last (bounded).
    failures: VecDeque<(u64, u64, String)>,
    stop: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
}

/// The flusher thread and the waiting room.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GroupCommit {
    pub(crate) fn start(mut flush: FlushFn) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let s2 = shared.clone();
        let thread = std::thread::Builder::new().name("idnode-flusher".into()).spawn(move || {
            let mut st = s2.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                while st.requested == st.completed && !st.stop {
                    st = s2.work.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.requested == st.completed && st.stop {
                    return;
                }
                let lo = st.completed;
                let target = st.requested;
                drop(st);
                let r = flush();
                st = s2.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(msg) = r {
                    if st.failures.len() >= 16 {
                        st.failures.pop_front();
                    }
                    st.failures.push_back((lo, target, msg));
                }
                st.completed = target;
                s2.done.notify_all();
            }
        })?;
        Ok(GroupCommit { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Blocks until everything committed before this call is flushed.
    pub(crate) fn wait_durable(&self) -> Result<(), StoreError> {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.stop {
            return Err(StoreError::Backend("store is closing".into()));
        }
        st.requested += 1;
        let ticket = st.requested;
        self.shared.work.notify_one();
        while st.completed < ticket {
            st = self.shared.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if let Some((_, _, msg)) = st.failures.iter().find(|(lo, hi, _)| *lo < ticket && ticket <= *hi) {
            return Err(StoreError::Backend(format!("flush failed: {msg}")));
        }
        Ok(())
    }

    /// Flushes what is pending and stops the thread (idempotent).
    pub(crate) fn stop(&self) {
        {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.stop = true;
            self.shared.work.notify_one();
        }
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn many_writers_share_flushes() {
        let flushes = Arc::new(AtomicU64::new(0));
        let f2 = flushes.clone();
        let gc = Arc::new(
            GroupCommit::start(Box::new(move || {
                std::thread::sleep(std::time::Duration::from_millis(2));
                f2.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }))
            .unwrap(),
        );
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let gc = gc.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        gc.wait_durable().unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!((20..160).contains(&n), "flushes {n}");
        gc.stop();
        assert!(gc.wait_durable().is_err());
    }

    #[test]
    fn failure_reported() {
        let gc = GroupCommit::start(Box::new(|| Err("disk on fire".into()))).unwrap();
        let e = gc.wait_durable().unwrap_err();
        assert!(e.to_string().contains("disk on fire"));
    }
}
