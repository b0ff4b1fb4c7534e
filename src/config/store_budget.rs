//! `[store] memory_budget`: the one setting that bounds the memory of the
//! store (sled's page cache plus the record read cache in front of it), and
//! how it is split. Owns the byte-size syntax (`"2GiB"`, `"512MiB"`, a bare
//! number of bytes) and the split; `[store]` itself lives in `config.rs`.
//!
//! The split (measured in docs/performance.md, "Scale: 10^7 identifiers"):
//! sled's `cache_capacity` counts the bytes of the pages it keeps, but the
//! process holds about twice that (node headers, fragments being
//! consolidated, allocator slack), and the read cache costs about
//! [`READ_CACHE_ENTRY_BYTES`] per record. So of a budget B, B/4 is given to
//! sled's `cache_capacity` (≈ B/2 resident), B/4 to the read cache (in
//! entries), B/16 to the alias read cache ([`ALIAS_CACHE_ENTRY_BYTES`] per
//! alias target), and 3B/16 stays for the rest of the node (buffers, tokio,
//! the prefix index, the alias filter at 2 bytes per alias-cache entry) and
//! slack. When `[dns]` serves, the DNS front's answer cache takes 3B/16
//! ([`DNS_ANSWER_ENTRY_BYTES`] per name: an answer and a known-absent name),
//! B/16 of it from the read cache (then 3B/16) and 2B/16 from the rest (then
//! B/16). `"0"` switches the budget off: `cache_mib` and
//! `read_cache_entries` then apply as given (the alias and answer caches
//! then hold as many entries as the record cache).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes one read-cache entry costs in the daemon, measured with the
/// benchmark records (three values, ~110 bytes stored): key and record
/// buffers, the reference count, the hash-table slot and allocator slack.
pub const READ_CACHE_ENTRY_BYTES: u64 = 320;

/// Bytes one alias read-cache entry costs (alias key and target text of
/// about 20 bytes each, the reference count, the hash-table slot, slack).
pub const ALIAS_CACHE_ENTRY_BYTES: u64 = 128;

/// Bytes the DNS answer cache costs per name it can hold: an answer (key
/// and answer section of about 120 bytes in one buffer, the stamp, its
/// hash-table slot with the table's growth slack: ~250 bytes measured with
/// 10^6 names) and a known-absent name (key and stamp, ~130 bytes).
pub const DNS_ANSWER_ENTRY_BYTES: u64 = 384;

/// The default budget: 2 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 2 << 30;

/// A size in bytes, written in TOML as a string with a binary unit
/// (`"2GiB"`, `"512MiB"`, `"64KiB"`, also `"2G"`/`"512M"`/`"64K"`) or as a
/// plain integer of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `"2GiB"`-style text (see the type docs).
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(digits);
        let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a number of bytes such as \"2GiB\""))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" | "kb" => 1 << 10,
            "m" | "mib" | "mb" => 1 << 20,
            "g" | "gib" | "gb" => 1 << 30,
            "t" | "tib" | "tb" => 1 << 40,
            other => return Err(format!("{s:?}: unknown unit {other:?} (use KiB, MiB, GiB)")),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(|| format!("{s:?}: too large"))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0;
        for (unit, m) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if n >= m && n.is_multiple_of(m) {
                return write!(f, "{}{unit}", n / m);
            }
        }
        write!(f, "{n}")
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Text(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// The default `[store] memory_budget`.
pub fn default_memory_budget() -> ByteSize {
    ByteSize(DEFAULT_MEMORY_BUDGET)
}

/// How a budget is spent (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySplit {
    /// sled's `cache_capacity`.
    pub sled_cache_bytes: u64,
    /// Records in the read cache.
    pub read_cache_entries: u64,
    /// Alias targets in the alias read cache.
    pub alias_cache_entries: u64,
    /// Answers in the DNS front's answer cache.
    pub dns_answer_entries: u64,
}

/// The split of `budget` bytes (`None` for a budget of 0 = off); `dns`:
/// whether the DNS front serves (its answer cache has a share).
pub fn split(budget: u64, dns: bool) -> Option<MemorySplit> {
    if budget == 0 {
        return None;
    }
    let (read_share, dns_share) = if dns { (budget * 3 / 16, budget * 3 / 16) } else { (budget / 4, 0) };
    Some(MemorySplit {
        sled_cache_bytes: (budget / 4).max(1 << 20),
        read_cache_entries: read_share / READ_CACHE_ENTRY_BYTES,
        alias_cache_entries: budget / 16 / ALIAS_CACHE_ENTRY_BYTES,
        dns_answer_entries: dns_share / DNS_ANSWER_ENTRY_BYTES,
    })
}

/// Smallest budget accepted (below this the node cannot keep even sled's
/// working pages): 64 MiB.
pub const MIN_MEMORY_BUDGET: u64 = 64 << 20;

/// Why `budget` is refused, if it is.
pub fn problem(budget: u64) -> Option<&'static str> {
    (budget != 0 && budget < MIN_MEMORY_BUDGET).then_some("must be 0 (off) or at least 64MiB")
}

impl super::Config {
    /// Records in the daemon's read cache: from the budget, or
    /// `read_cache_entries` when the budget is off.
    pub fn read_cache_entries(&self) -> usize {
        let n = split(self.store.memory_budget.0, self.dns.enabled)
            .map_or(self.store.read_cache_entries, |s| s.read_cache_entries);
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Alias targets in the daemon's alias read cache: from the budget, or
    /// as many as `read_cache_entries` when the budget is off.
    pub fn alias_cache_entries(&self) -> usize {
        let n = split(self.store.memory_budget.0, self.dns.enabled)
            .map_or(self.store.read_cache_entries, |s| s.alias_cache_entries);
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Answers in the DNS front's answer cache: from the budget, or as many
    /// as `read_cache_entries` when the budget is off.
    pub fn dns_answer_entries(&self) -> usize {
        let n = split(self.store.memory_budget.0, self.dns.enabled)
            .map_or(self.store.read_cache_entries, |s| s.dns_answer_entries);
        usize::try_from(n).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_bytes() {
        assert_eq!(ByteSize::parse("2GiB").unwrap().0, 2 << 30);
        assert_eq!(ByteSize::parse("512 MiB").unwrap().0, 512 << 20);
        assert_eq!(ByteSize::parse("64k").unwrap().0, 64 << 10);
        assert_eq!(ByteSize::parse("1000").unwrap().0, 1000);
        assert!(ByteSize::parse("2 parsecs").is_err());
        assert!(ByteSize::parse("GiB").is_err());
        assert!(ByteSize::parse("99999999999999T").is_err());
        assert_eq!(ByteSize(2 << 30).to_string(), "2GiB");
        assert_eq!(ByteSize(1000).to_string(), "1000");
    }

    #[test]
    fn the_split_stays_inside_the_budget() {
        let b = 2u64 << 30;
        for dns in [false, true] {
            let s = split(b, dns).unwrap();
            assert_eq!(s.sled_cache_bytes, 512 << 20);
            assert!(s.alias_cache_entries * ALIAS_CACHE_ENTRY_BYTES <= 128 << 20);
            // 10^6 aliases fit the default budget, and their DNS answers
            // and as many unknown names when DNS serves.
            assert!(s.alias_cache_entries >= 1_000_000);
            assert_eq!(s.dns_answer_entries >= 1_000_000, dns);
            // sled's pages count twice (module docs); with the caches and
            // the rest that is the whole budget.
            let rest = if dns { b / 16 } else { b * 3 / 16 };
            let parts = 2 * s.sled_cache_bytes
                + s.read_cache_entries * READ_CACHE_ENTRY_BYTES
                + s.alias_cache_entries * ALIAS_CACHE_ENTRY_BYTES
                + s.dns_answer_entries * DNS_ANSWER_ENTRY_BYTES
                + rest;
            assert!(parts <= b, "{parts} > {b}");
        }
        assert_eq!(split(b, false).unwrap().dns_answer_entries, 0);
        assert!(split(0, true).is_none());
    }
}
