//! The read snapshot's persisted index (`read-snapshot.v1.idx` beside the
//! snapshot): the open-addressing slots and the hash seed they were built
//! with, so that an open loads them with one sequential read instead of
//! scanning the whole snapshot file (~2 GB at 10^7).
//!
//! Layout, little-endian: a 64-byte header `[magic "IDNRIDX1"][snapshot seq]
//! [snapshot count][snapshot data end][seed][slots][checksum][0]`, then one
//! `u64` per slot. The header binds it to one snapshot (seq, count and data
//! length, all from the snapshot's footer); the checksum covers the slots.
//! Anything that does not match is refused and the caller builds the index
//! again. Written to a temporary name, fsynced, renamed.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: &[u8; 8] = b"IDNRIDX1";
const HEADER: usize = 64;
/// Bytes read (and checked for a stop request) at a time.
const CHUNK: usize = 1 << 20;

/// What binds an index to its snapshot (from the snapshot's footer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapId {
    pub(crate) seq: u64,
    pub(crate) count: u64,
    pub(crate) end: u64,
}

/// The index file of the snapshot at `snapshot`.
pub(crate) fn path_of(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.file_name().unwrap_or_default().to_os_string();
    name.push(".idx");
    snapshot.with_file_name(name)
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("read-snapshot index: {msg}"))
}

/// A 64-bit checksum of the slots (detects damaged or truncated data; the
/// header's binding and the caller's spot check detect a foreign index).
#[derive(Default)]
struct Sum(u64);

impl Sum {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(23) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

fn header(id: SnapId, seed: u64, nslots: u64, sum: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    for (i, w) in [id.seq, id.count, id.end, seed, nslots, sum].into_iter().enumerate() {
        h[8 + i * 8..16 + i * 8].copy_from_slice(&w.to_le_bytes());
    }
    h
}

/// Writes `slots` (built with `seed`) as the index of snapshot `id`.
pub(crate) fn save(path: &Path, id: SnapId, seed: u64, slots: &[u64]) -> std::io::Result<()> {
    let mut sum = Sum::default();
    for &w in slots {
        sum.add(w);
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut w = BufWriter::with_capacity(CHUNK, File::create(&tmp)?);
    w.write_all(&header(id, seed, slots.len() as u64, sum.0))?;
    for &s in slots {
        w.write_all(&s.to_le_bytes())?;
    }
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Loads the index of snapshot `id` with `nslots` slots: `(slots, seed)`,
/// `None` when `stop` was raised, an error when the file is missing,
/// damaged or belongs to another snapshot.
pub(crate) fn load(
    path: &Path,
    id: SnapId,
    nslots: usize,
    stop: &AtomicBool,
) -> std::io::Result<Option<(Box<[u64]>, u64)>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len != (HEADER as u64).saturating_add((nslots as u64).saturating_mul(8)) {
        return Err(bad("length does not match the snapshot"));
    }
    let mut h = [0u8; HEADER];
    f.read_exact(&mut h)?;
    if &h[..8] != MAGIC {
        return Err(bad("bad magic"));
    }
    let word = |i: usize| u64::from_le_bytes(h[8 + i * 8..16 + i * 8].try_into().unwrap_or_default());
    let found = SnapId { seq: word(0), count: word(1), end: word(2) };
    if found != id {
        return Err(bad("made for another snapshot"));
    }
    let (seed, n, want_sum) = (word(3), word(4), word(5));
    if n != nslots as u64 || h[56..].iter().any(|&b| b != 0) {
        return Err(bad("bad header"));
    }
    let mut slots = vec![0u64; nslots].into_boxed_slice();
    let mut buf = vec![0u8; CHUNK];
    let mut sum = Sum::default();
    let mut occupied = 0u64;
    for part in slots.chunks_mut(CHUNK / 8) {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let bytes = &mut buf[..part.len() * 8];
        f.read_exact(bytes)?;
        for (s, b) in part.iter_mut().zip(bytes.chunks_exact(8)) {
            let w = u64::from_le_bytes(b.try_into().unwrap_or_default());
            sum.add(w);
            occupied += u64::from(w != 0);
            *s = w;
        }
    }
    if sum.0 != want_sum {
        return Err(bad("checksum mismatch"));
    }
    if occupied != id.count {
        return Err(bad("slot count does not match the snapshot"));
    }
    Ok(Some((slots, seed)))
}
