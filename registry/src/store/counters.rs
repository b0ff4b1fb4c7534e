//! In-memory per-prefix per-day counters, sharded so that concurrent
//! resolutions rarely contend. Drained into the `counters` tree by
//! `persist_counters`. Counts not yet persisted are lost on a crash — they
//! are statistics, not data.

use std::sync::Mutex;

use super::prefix_index::{HashKeyed, ci_hash};
use crate::model::DayCounters;

const SHARDS: usize = 16;

#[derive(Debug)]
struct Slot {
    /// ASCII-upper-cased prefix.
    key: Box<[u8]>,
    day: u32,
    c: DayCounters,
}

#[derive(Debug, Default)]
pub(crate) struct CounterAcc {
    shards: [Mutex<HashKeyed<Vec<Slot>>>; SHARDS],
}

fn slot_hash(prefix: &[u8], day: u32) -> u64 {
    ci_hash(prefix) ^ u64::from(day).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl CounterAcc {
    /// Adds to the counters of (`prefix`, `day`); allocates only the first
    /// time a (prefix, day) pair is seen.
    pub(crate) fn add(&self, prefix: &[u8], day: u32, c: DayCounters) {
        let h = slot_hash(prefix, day);
        let mut shard = self.shards[(h as usize) % SHARDS].lock().unwrap_or_else(|e| e.into_inner());
        let bucket = shard.entry(h).or_default();
        if let Some(s) = bucket.iter_mut().find(|s| s.day == day && s.key.eq_ignore_ascii_case(prefix)) {
            s.c.add(c);
        } else {
            let key = prefix.to_ascii_uppercase().into_boxed_slice();
            bucket.push(Slot { key, day, c });
        }
    }

    /// Takes every pending count.
    pub(crate) fn drain(&self) -> Vec<(Box<[u8]>, u32, DayCounters)> {
        let mut out = Vec::new();
        for sh in &self.shards {
            let mut m = sh.lock().unwrap_or_else(|e| e.into_inner());
            for (_, bucket) in m.drain() {
                out.extend(bucket.into_iter().map(|s| (s.key, s.day, s.c)));
            }
        }
        out
    }

    /// Puts counts back (after a failed persist).
    pub(crate) fn restore(&self, items: Vec<(Box<[u8]>, u32, DayCounters)>) {
        for (k, d, c) in items {
            self.add(&k, d, c);
        }
    }

    /// Pending counts of `prefix` on `day`.
    #[cfg(test)]
    pub(crate) fn pending(&self, prefix: &[u8], day: u32) -> DayCounters {
        let h = slot_hash(prefix, day);
        let shard = self.shards[(h as usize) % SHARDS].lock().unwrap_or_else(|e| e.into_inner());
        shard
            .get(&h)
            .and_then(|b| b.iter().find(|s| s.day == day && s.key.eq_ignore_ascii_case(prefix)))
            .map(|s| s.c)
            .unwrap_or_default()
    }

    /// Days with pending counts for `prefix` in `from..=to`.
    pub(crate) fn pending_days(&self, prefix: &[u8], from: u32, to: u32) -> Vec<(u32, DayCounters)> {
        let mut out = Vec::new();
        for sh in &self.shards {
            let m = sh.lock().unwrap_or_else(|e| e.into_inner());
            for s in m.values().flatten() {
                if s.day >= from && s.day <= to && s.key.eq_ignore_ascii_case(prefix) {
                    out.push((s.day, s.c));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulate_and_drain() {
        let acc = CounterAcc::default();
        acc.add(b"88.1", 5, DayCounters { registrations: 0, resolutions: 2 });
        acc.add(b"88.1", 5, DayCounters { registrations: 1, resolutions: 3 });
        acc.add(b"88.1", 6, DayCounters { registrations: 1, resolutions: 0 });
        assert_eq!(acc.pending(b"88.1", 5), DayCounters { registrations: 1, resolutions: 5 });
        assert_eq!(acc.pending_days(b"88.1", 0, 10).len(), 2);
        let d = acc.drain();
        assert_eq!(d.len(), 2);
        assert_eq!(acc.pending(b"88.1", 5), DayCounters::default());
    }
}
