//! Where the master key (see `sealed`) comes from: `GATEHOUSE_MASTER_KEY` (base64 of 32 bytes),
//! else a key file (`GATEHOUSE_MASTER_KEY_FILE`, or `[secrets] master_key_file`), else, on SQLite
//! only, a `0600` file beside the database that the first start generates. PostgreSQL deployments
//! run several nodes that must share one key, so there the key must be given: a key generated on
//! one node would not be known to the others. `GATEHOUSE_MASTER_KEY_PREVIOUS` (comma-separated)
//! names keys that still open values during a rotation.

use crate::error::{CoreError, CoreResult};
use crate::sealed::{MasterKey, Sealer};
use crate::storage::DbUrl;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const ENV_KEY: &str = "GATEHOUSE_MASTER_KEY";
pub const ENV_KEY_FILE: &str = "GATEHOUSE_MASTER_KEY_FILE";
pub const ENV_PREVIOUS: &str = "GATEHOUSE_MASTER_KEY_PREVIOUS";

/// Everything the key may come from, gathered by the binary (environment and configuration).
#[derive(Clone, Default)]
pub struct KeySources {
    pub key: Option<String>,
    pub key_file: Option<PathBuf>,
    pub previous: Vec<String>,
    /// Never generate the SQLite key file: a command on an existing database whose key file is
    /// missing says so instead of sealing with a new key nobody else has.
    pub existing_only: bool,
}

impl std::fmt::Debug for KeySources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySources")
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("key_file", &self.key_file)
            .field("previous", &self.previous.len())
            .field("existing_only", &self.existing_only)
            .finish()
    }
}

impl KeySources {
    /// The environment's variables, with `config_file` (`[secrets] master_key_file`) below
    /// `GATEHOUSE_MASTER_KEY_FILE`.
    pub fn from_env(config_file: Option<PathBuf>) -> KeySources {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        KeySources {
            key: var(ENV_KEY),
            key_file: var(ENV_KEY_FILE).map(PathBuf::from).or(config_file),
            previous: var(ENV_PREVIOUS)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            existing_only: false,
        }
    }
}

fn bad(message: String) -> CoreError {
    CoreError::invalid("master key", message)
}

/// The file a SQLite database keeps its generated key in: `<database file>.master-key`.
pub fn beside(db_path: &str) -> PathBuf {
    PathBuf::from(format!("{db_path}.master-key"))
}

/// Builds the sealer for a database, generating the key file beside a SQLite database on its
/// first start. Errors name the source, never the key.
pub fn load(sources: &KeySources, db: &DbUrl) -> CoreResult<Sealer> {
    let current = if let Some(text) = &sources.key {
        MasterKey::from_base64(text).map_err(|e| bad(format!("{ENV_KEY}: {e}")))?
    } else if let Some(path) = &sources.key_file {
        read_key_file(path)?
    } else {
        match db {
            DbUrl::Sqlite(path) if path.contains(":memory:") => {
                return Ok(Sealer::ephemeral());
            }
            DbUrl::Sqlite(path) if sources.existing_only && !beside(path).exists() => {
                return Err(bad(format!(
                    "{} does not exist and this command creates none: give the key this \
                     database was sealed with ({ENV_KEY}, {ENV_KEY_FILE} or [secrets] \
                     master_key_file)",
                    beside(path).display()
                )))
            }
            DbUrl::Sqlite(path) => read_or_generate(&beside(path))?,
            DbUrl::Postgres(_) => {
                return Err(bad(format!(
                    "PostgreSQL needs a master key shared by every node: set {ENV_KEY} (base64 of \
                     32 random bytes, e.g. `openssl rand -base64 32`) or {ENV_KEY_FILE} or \
                     [secrets] master_key_file"
                )))
            }
        }
    };
    let previous = sources
        .previous
        .iter()
        .map(|text| MasterKey::from_base64(text).map_err(|e| bad(format!("{ENV_PREVIOUS}: {e}"))))
        .collect::<CoreResult<Vec<_>>>()?;
    Ok(Sealer::new(current, previous))
}

fn read_key_file(path: &Path) -> CoreResult<MasterKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    warn_if_readable_by_others(path);
    MasterKey::from_base64(&text).map_err(|e| bad(format!("{}: {e}", path.display())))
}

/// Reads the key file, or creates it (mode 0600, never replacing one that appeared meanwhile).
fn read_or_generate(path: &Path) -> CoreResult<MasterKey> {
    if path.exists() {
        return read_key_file(path);
    }
    let text = MasterKey::generate_base64();
    match create_private(path) {
        Ok(mut file) => {
            file.write_all(format!("{text}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| bad(format!("cannot write {}: {e}", path.display())))?;
            log::warn!(
                "generated a master key into {} (mode 0600): it seals the signing keys and \
                 project secrets; keep it with the database and back it up, without it they cannot be read",
                path.display()
            );
            MasterKey::from_base64(&text).map_err(bad)
        }
        // Another process (a second node, the CLI) made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(bad(format!("cannot create {}: {e}", path.display()))),
    }
}

/// A new file only its owner may read or write.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                log::warn!(
                    "the master key file {} is readable by others than its owner: chmod 600 it",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_generates_a_private_key_file_once_and_postgres_asks_for_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("g.db").display().to_string();
        let url = DbUrl::Sqlite(db.clone());
        let first = load(&KeySources::default(), &url).unwrap();
        let again = load(&KeySources::default(), &url).unwrap();
        assert_eq!(first.current_id(), again.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(beside(&db)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let pg = DbUrl::Postgres("postgres://u@h/db".into());
        let e = load(&KeySources::default(), &pg).unwrap_err().to_string();
        assert!(e.contains(ENV_KEY), "{e}");
        let bad_key = KeySources {
            key: Some("c2hvcnQ=".into()),
            ..KeySources::default()
        };
        let e = load(&bad_key, &pg).unwrap_err().to_string();
        assert!(e.contains("32 bytes") && !e.contains("c2hvcnQ="), "{e}");
    }
}
