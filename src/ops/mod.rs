//! Operator tooling that is not part of serving: the packaging assets
//! (`idnode gen-assets`: man pages and shell completions generated from the
//! clap definitions, used by `scripts/package`) and the operator logs
//! (sampled request log lines, see [`request_log`]). `idnode doctor` lives
//! in `crate::doctor`.

pub mod request_log;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;

/// `idnode gen-assets` (hidden): writes what the packages ship besides the
/// binary.
#[derive(Debug, clap::Args)]
pub struct GenAssetsArgs {
    /// Output directory; `man/` (section 1 pages) and `completions/`
    /// (bash, zsh, fish) are created under it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Writes `man/idnode.1`, one `man/idnode-<sub>.1` per subcommand, and
/// `completions/idnode.bash`, `_idnode` (zsh), `idnode.fish`.
pub fn gen_assets(args: &GenAssetsArgs) -> Result<()> {
    let man = args.out.join("man");
    let completions = args.out.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let cmd = crate::cli::Cli::command();
    let pages = write_man_pages(&cmd, &man)?;
    let mut cmd = cmd;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "idnode.bash"),
        (clap_complete::Shell::Zsh, "_idnode"),
        (clap_complete::Shell::Fish, "idnode.fish"),
    ] {
        let path = completions.join(file);
        let mut out = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        clap_complete::generate(shell, &mut cmd, "idnode", &mut out);
    }
    println!("gen-assets: {pages} man page(s) in {}, completions in {}", man.display(), completions.display());
    Ok(())
}

/// The top page and one page per visible subcommand (`idnode-prefix.1`),
/// as `git` and `cargo` ship theirs.
fn write_man_pages(cmd: &clap::Command, dir: &Path) -> Result<usize> {
    let mut written = 0;
    let mut render = |c: clap::Command, name: String| -> Result<()> {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(c).render(&mut buf).with_context(|| format!("rendering {name}.1"))?;
        std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
        Ok(())
    };
    let mut top = cmd.clone();
    top.build();
    render(top.clone(), "idnode".to_owned())?;
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("idnode-{}", sub.get_name());
        // clap names are &'static str without its `string` feature; this
        // one-shot command leaks a few bytes per page.
        let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
        render(sub.clone().name(static_name), name)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_cover_every_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        gen_assets(&GenAssetsArgs { out: dir.path().to_owned() }).unwrap();
        let top = std::fs::read_to_string(dir.path().join("man/idnode.1")).unwrap();
        assert!(top.contains(".TH idnode 1"), "{}", &top[..200.min(top.len())]);
        assert!(dir.path().join("man/idnode-doctor.1").exists());
        assert!(!dir.path().join("man/idnode-gen-assets.1").exists(), "hidden command has no page");
        let bash = std::fs::read_to_string(dir.path().join("completions/idnode.bash")).unwrap();
        assert!(bash.contains("check-config"));
        assert!(std::fs::read_to_string(dir.path().join("completions/_idnode")).unwrap().contains("#compdef idnode"));
    }
}
