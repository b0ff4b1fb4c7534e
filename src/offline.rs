//! PLACEHOLDER so the binary builds: the registry engineer owns this file and
//! replaces it with the real offline commands (`idnode id ...`).

use std::path::Path;

/// Offline store commands.
#[derive(Debug, clap::Subcommand)]
pub enum IdCommand {
    /// Print one identifier's record.
    Get {
        /// The identifier.
        identifier: String,
    },
}

/// Runs an offline command against the store in `data_dir`.
pub fn run_id(cmd: IdCommand, data_dir: &Path) -> anyhow::Result<()> {
    anyhow::bail!("id {cmd:?} on {}: not yet implemented", data_dir.display())
}
