//! `config import-ini`: the older tool's INI as TOML and the Lua shim's settings file.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use badclients::config::import_ini;

use super::args::ImportIniArgs;

/// The shim's settings file's name next to the TOML written with `--output`, and the path
/// the shim reads by default.
const SHIM_SETTINGS_NAME: &str = "dovecot-lua.conf";

pub(super) fn import(args: &ImportIniArgs) -> Result<ExitCode> {
    let file = &args.file;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let imported = import_ini::import(&text);
    for note in &imported.notes {
        eprintln!("{}: {note}", file.display());
    }
    let toml = import_ini::to_toml(&imported.config);
    let shim_text = import_ini::to_shim_settings(&imported.shim, file);
    let shim_path = args.shim_settings.clone().or_else(|| {
        args.output
            .as_ref()
            .map(|o| o.with_file_name(SHIM_SETTINGS_NAME))
    });
    let shim_path = shim_path.filter(|_| !imported.shim.is_empty());
    // Check every target before writing any.
    if !args.force {
        for path in args.output.iter().chain(shim_path.iter()) {
            if path.exists() {
                bail!(
                    "{} exists; give --force to overwrite it, or another file",
                    path.display()
                );
            }
        }
    }
    if let (Some(out), Some(shim)) = (&args.output, &shim_path) {
        if out == shim {
            bail!(
                "the TOML and the shim's settings would both go to {}",
                out.display()
            );
        }
    }
    match &args.output {
        Some(path) => {
            write_private(path, &toml)?;
            println!("wrote {}", path.display());
        }
        None => print!("{toml}"),
    }
    match &shim_path {
        Some(path) => {
            write_private(path, &shim_text)?;
            println!(
                "wrote {} (the Lua shim's settings: {})",
                path.display(),
                shim_keys(&imported.shim)
            );
        }
        None if !imported.shim.is_empty() => {
            eprintln!(
                "{}: the Dovecot Lua shim's settings ({}) go in its own file: put these lines in \
                 /etc/badclients/{SHIM_SETTINGS_NAME} (or give --shim-settings FILE, or -o FILE \
                 to write both files):",
                file.display(),
                shim_keys(&imported.shim)
            );
            for (key, value) in &imported.shim {
                eprintln!("  {key} = {value}");
            }
        }
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `result_block, process_unknown`: the keys of the shim settings.
fn shim_keys(shim: &[(String, String)]) -> String {
    let keys: Vec<&str> = shim.iter().map(|(k, _)| k.as_str()).collect();
    keys.join(", ")
}

/// Writes `text` to `path`; a new file gets mode 0640 (the configuration will hold the API
/// key), an existing one (with --force) keeps its mode and owner.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
