//! Resuming an interrupted `idnode id import`: after every committed (and
//! flushed) batch the importer records how far into the input file it got
//! in `<data_dir>/import.resume`; a later import of the same file (same
//! path, length and modification time) starts from there instead of line 1.
//! The checkpoint never claims more than what is committed: it is written
//! after the batch's flush, to a temporary name that is synced and renamed.
//! A finished import removes it. Standard input is never resumed.
//! The checkpoint also holds the store's change seq at that flush: in bulk
//! mode (writes flushed every few seconds, not per batch) an interrupted
//! import may leave committed records past the resume point, and the
//! importer takes the change log after that seq as "already imported by
//! this run" instead of failing them as duplicates (a record another
//! offline command wrote in between under a key of the remaining lines
//! counts as imported too: only the key is compared).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where one input file stood after the last committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Absolute path of the input.
    pub(crate) file: PathBuf,
    /// Length and modification time (Unix ns) of the input when it began.
    pub(crate) len: u64,
    pub(crate) mtime_ns: u128,
    /// Bytes of whole lines consumed (the next line starts here).
    pub(crate) offset: u64,
    /// Lines consumed.
    pub(crate) lines: u64,
    /// Records imported so far (for the final summary).
    pub(crate) ok: u64,
    /// The store's change seq when this point was made durable (`None`
    /// from a v1 file).
    pub(crate) seq: Option<u64>,
}

const NAME: &str = "import.resume";

fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(NAME)
}

impl Checkpoint {
    /// The identity of `file` as a fresh checkpoint at offset 0.
    pub(crate) fn start(file: &Path) -> std::io::Result<Checkpoint> {
        let abs = std::fs::canonicalize(file)?;
        let m = std::fs::metadata(&abs)?;
        let mtime_ns = m.modified()?.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Ok(Checkpoint { file: abs, len: m.len(), mtime_ns, offset: 0, lines: 0, ok: 0, seq: None })
    }

    /// The saved checkpoint for the same input as `fresh`, if any.
    pub(crate) fn load_matching(data_dir: &Path, fresh: &Checkpoint) -> Option<Checkpoint> {
        let text = std::fs::read_to_string(path_in(data_dir)).ok()?;
        let mut it = text.lines();
        let v2 = match it.next()? {
            "idnode-import-resume v1" => false,
            "idnode-import-resume v2" => true,
            _ => return None,
        };
        let file = PathBuf::from(it.next()?);
        let mut num = || it.next().and_then(|l| l.parse::<u128>().ok());
        let (len, mtime_ns, offset, lines, ok) = (num()?, num()?, num()?, num()?, num()?);
        let c = Checkpoint {
            file,
            len: u64::try_from(len).ok()?,
            mtime_ns,
            offset: u64::try_from(offset).ok()?,
            lines: u64::try_from(lines).ok()?,
            ok: u64::try_from(ok).ok()?,
            seq: if v2 { Some(u64::try_from(num()?).ok()?) } else { None },
        };
        (c.file == fresh.file && c.len == fresh.len && c.mtime_ns == fresh.mtime_ns && c.offset <= c.len).then_some(c)
    }

    /// Records this checkpoint durably (temporary file, sync, rename).
    pub(crate) fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let tmp = data_dir.join(format!("{NAME}.tmp"));
        let mut f = File::create(&tmp)?;
        writeln!(
            f,
            "idnode-import-resume v{}\n{}\n{}\n{}\n{}\n{}\n{}",
            if self.seq.is_some() { 2 } else { 1 },
            self.file.display(),
            self.len,
            self.mtime_ns,
            self.offset,
            self.lines,
            self.ok
        )?;
        if let Some(seq) = self.seq {
            writeln!(f, "{seq}")?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path_in(data_dir))
    }

    /// Forgets the checkpoint (the import finished).
    pub(crate) fn clear(data_dir: &Path) {
        let _ = std::fs::remove_file(path_in(data_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_only_matches_the_same_unchanged_file() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("ids.jsonl");
        std::fs::write(&input, "a\nb\n").unwrap();
        let mut c = Checkpoint::start(&input).unwrap();
        assert!(Checkpoint::load_matching(dir.path(), &c).is_none());
        c.offset = 2;
        c.lines = 1;
        c.ok = 1;
        c.save(dir.path()).unwrap();
        let fresh = Checkpoint::start(&input).unwrap();
        assert_eq!(Checkpoint::load_matching(dir.path(), &fresh), Some(c.clone()), "v1");
        c.seq = Some(42);
        c.save(dir.path()).unwrap();
        let fresh = Checkpoint::start(&input).unwrap();
        assert_eq!(Checkpoint::load_matching(dir.path(), &fresh), Some(c));
        std::fs::write(&input, "a\nb\nc\n").unwrap();
        let changed = Checkpoint::start(&input).unwrap();
        assert!(Checkpoint::load_matching(dir.path(), &changed).is_none());
        Checkpoint::clear(dir.path());
        assert!(Checkpoint::load_matching(dir.path(), &fresh).is_none());
    }
}
