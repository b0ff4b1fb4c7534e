//! The archive file around `idnode_registry::backup`: gzip (flate2, already
//! in the tree), the data directory's key files when secrets are asked for,
//! and a byte-counting writer for progress. Shared by the admin API's
//! `GET /admin/v1/backup` and the offline `idnode backup`.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use idnode_registry::backup::{self, BackupOptions, Header, Trailer};
use idnode_registry::store::Store;

use crate::config::Config;

/// The data-directory files an archive with secrets carries: name in the
/// archive -> where it lives for `cfg`.
pub fn secret_files(cfg: &Config) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("server.key", cfg.server_key_path()),
        ("admin.secret", cfg.admin_secret_path()),
        (crate::api::auth::sealed::KEY_FILE, cfg.data_dir().join(crate::api::auth::sealed::KEY_FILE)),
    ]
}

/// Writes a gzip-compressed archive of `store` to `out`; with secrets, the
/// key files of `cfg`'s data directory that exist go in too.
pub fn write_archive(
    store: &dyn Store,
    cfg: &Config,
    with_secrets: bool,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<Trailer> {
    let mut files = Vec::new();
    if with_secrets {
        for (name, path) in secret_files(cfg) {
            match std::fs::read(&path) {
                Ok(b) => files.push((name.to_owned(), b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
    }
    let opts = BackupOptions {
        with_secrets,
        now: crate::unix_now(),
        software: format!("idnode {}", env!("CARGO_PKG_VERSION")),
        files,
    };
    let mut gz = GzEncoder::new(out, Compression::fast());
    let trailer = backup::write_backup(store, &mut gz, &opts, progress)?;
    gz.finish().context("finishing the compressed archive")?.flush()?;
    Ok(trailer)
}

/// A reader of an archive file's content (decompressed).
pub fn open_archive(r: impl Read) -> impl Read {
    MultiGzDecoder::new(std::io::BufReader::with_capacity(256 << 10, r))
}

/// Reads a whole archive file and checks it (checksum, counts).
pub fn verify_file(path: &std::path::Path) -> Result<(Header, Trailer)> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = open_archive(f);
    backup::verify(&mut r).map_err(|e| anyhow::Error::new(e).context(format!("{} is refused", path.display())))
}

/// Writes to an mpsc channel in chunks (a streamed HTTP body).
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::result::Result<axum::body::Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

/// Bytes per streamed chunk.
const CHUNK: usize = 256 << 10;

impl ChannelWriter {
    pub fn new(tx: tokio::sync::mpsc::Sender<std::result::Result<axum::body::Bytes, std::io::Error>>) -> Self {
        ChannelWriter { tx, buf: Vec::with_capacity(CHUNK) }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = axum::body::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }

    /// Ends the body with an error (the client sees a cut stream).
    pub fn abort(self, msg: String) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(msg)));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
