//! Bringing a tenant's people in from another system and taking them out again. Each source format
//! (`tiledesk`, `appmixer`, `gatehouse`) only turns one record into core's own rows; everything
//! else is shared: the bounded record reader, the checks (ids, emails, hash formats, duplicates
//! in the file), and one bulk path (`bulk`) that writes in batched transactions, skips or
//! overwrites rows that exist, and reports every refused record by its line.

pub mod appmixer;
mod bulk;
pub mod extjson;
pub mod gatehouse;
pub mod legacy_keys;
pub mod moved_keys;
pub mod reader;
pub mod tiledesk;

use crate::error::{CoreError, CoreResult};
use crate::ids::is_object_id;
use crate::secret::Secret;
use crate::service::Core;
use crate::storage::models::{MemberRow, ProjectRow, UserRow};
use crate::tenants::Tenant;
use crate::token::SigningKey;
use moved_keys::{KeySeal, PassphraseKey};
use reader::RecordReader;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Read;

/// Records per transaction: large enough to amortise a commit, small enough that a server
/// beside the import waits only a moment for SQLite's one write lock.
pub(crate) const BATCH: usize = 5_000;
/// Refusals kept for the report (all are counted).
const REFUSALS_KEPT: usize = 10_000;

/// What a file holds, and so which reader turns its records into rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// tiledesk-server's `users` collection.
    TiledeskUsers,
    /// tiledesk-server's `projects` collection.
    TiledeskProjects,
    /// tiledesk-server's `project_users` collection.
    TiledeskMembers,
    /// Appmixer's user records.
    AppmixerUsers,
    /// `gatehouse export`.
    Gatehouse,
}

impl Format {
    /// The kind a record of this format that cannot be read is counted as.
    fn kind(self) -> Kind {
        match self {
            Format::TiledeskProjects => Kind::Project,
            Format::TiledeskMembers => Kind::Member,
            Format::TiledeskUsers | Format::AppmixerUsers | Format::Gatehouse => Kind::User,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check everything, write nothing.
    pub dry_run: bool,
    /// Overwrite records whose id exists (else they are skipped and counted).
    pub update: bool,
}

/// One record, as core's own row (a project's `jwt_secret` still in clear: it is sealed when
/// written).
#[derive(Clone)]
pub enum Record {
    User(Box<UserRow>),
    Project(ProjectRow),
    Member(MemberRow),
    Setting {
        name: String,
        value: String,
    },
    /// The header line of an export: nothing to write.
    Header,
    /// How an export's signing keys are sealed.
    KeySeal(KeySeal),
    /// A signing key as an export carries it, sealed under the passphrase.
    Key(Box<gatehouse::MovedKey>),
    /// A signing key opened with the passphrase, to be sealed under the master key and written.
    OpenedKey(Box<SigningKey>),
}

impl Record {
    fn kind(&self) -> Kind {
        match self {
            Record::User(_) => Kind::User,
            Record::Project(_) => Kind::Project,
            Record::Member(_) => Kind::Member,
            Record::Setting { .. } | Record::Header | Record::KeySeal(_) => Kind::Setting,
            Record::Key(_) | Record::OpenedKey(_) => Kind::Key,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    User,
    Project,
    Member,
    Setting,
    Key,
}

/// Counts for one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// New records written (or, in a dry run, that would be).
    pub imported: u64,
    pub updated: u64,
    /// Records whose id exists, left alone.
    pub skipped: u64,
    pub refused: u64,
    /// Members left out because their user was refused (each listed in `dropped`, by line): the
    /// user's refusal is the error, not these.
    pub dropped: u64,
}

/// A record that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The file, as the caller named it.
    pub file: String,
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub users: Counts,
    pub projects: Counts,
    pub members: Counts,
    pub settings: Counts,
    /// Signing keys (an export made `--with-keys`, imported with the passphrase).
    pub keys: Counts,
    /// Signing keys the file carries that were left alone for want of a passphrase.
    pub keys_without_passphrase: u64,
    /// The first refusals, in order (every one is counted in its kind's `refused`).
    pub refusals: Vec<Refusal>,
    /// The first members left out because their user was refused.
    pub dropped: Vec<Refusal>,
    pub dry_run: bool,
}

impl ImportReport {
    pub fn refused(&self) -> u64 {
        self.users.refused
            + self.projects.refused
            + self.members.refused
            + self.settings.refused
            + self.keys.refused
    }

    pub(crate) fn counts(&mut self, kind: Kind) -> &mut Counts {
        match kind {
            Kind::User => &mut self.users,
            Kind::Project => &mut self.projects,
            Kind::Member => &mut self.members,
            Kind::Setting => &mut self.settings,
            Kind::Key => &mut self.keys,
        }
    }

    /// One line: what happened to each kind of record that appeared.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (name, c) in [
            ("users", self.users),
            ("projects", self.projects),
            ("members", self.members),
            ("settings", self.settings),
            ("signing keys", self.keys),
        ] {
            if c != Counts::default() || name == "users" {
                let mut part = format!(
                    "{name}: {} {}, {} updated, {} skipped (already there), {} refused",
                    c.imported,
                    if self.dry_run {
                        "to import"
                    } else {
                        "imported"
                    },
                    c.updated,
                    c.skipped,
                    c.refused
                );
                if c.dropped > 0 {
                    part.push_str(&format!(", {} dropped (their user was refused)", c.dropped));
                }
                parts.push(part);
            }
        }
        let mut line = parts.join("; ");
        if self.keys_without_passphrase > 0 {
            line.push_str(&format!(
                "; {} signing keys skipped (no --passphrase-file: tokens issued before the move \
                 do not verify here)",
                self.keys_without_passphrase
            ));
        }
        if self.dry_run {
            line.push_str(" (dry run: nothing written)");
        }
        line
    }
}

/// A 64-bit digest of a key (an id, an email): what the duplicate checks remember, so a million
/// records cost megabytes, not the keys themselves.
fn digest(kind: &str, key: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

/// Reads files into one tenant: records are checked as they come, queued by kind and written a
/// batch at a time. Create with `Core::importer`, feed with `read`, end with `finish`.
pub struct Importer<'c> {
    pub(crate) core: &'c Core,
    pub(crate) tenant: &'c Tenant,
    pub(crate) opts: ImportOptions,
    pub(crate) report: ImportReport,
    file: String,
    pending: Vec<(u64, Record)>,
    /// Keys seen in this run (digest -> first line), to refuse a duplicate in the files.
    seen: HashMap<u64, u64>,
    /// In a dry run, the users and projects that would exist (members are checked against them).
    assumed: HashSet<u64>,
    /// Ids of refused users (digest -> line), so their memberships are dropped, not refused.
    refused_users: HashMap<u64, u64>,
    /// What opens an export's signing keys: the passphrase, the file's seal, the derived key.
    passphrase: Option<Secret<Vec<u8>>>,
    key_seal: Option<KeySeal>,
    file_key: Option<std::sync::Arc<PassphraseKey>>,
}

impl Core {
    pub fn importer<'c>(&'c self, tenant: &'c Tenant, opts: ImportOptions) -> Importer<'c> {
        Importer {
            core: self,
            tenant,
            opts,
            report: ImportReport {
                dry_run: opts.dry_run,
                ..ImportReport::default()
            },
            file: String::new(),
            pending: Vec::new(),
            seen: HashMap::new(),
            assumed: HashSet::new(),
            refused_users: HashMap::new(),
            passphrase: None,
            key_seal: None,
            file_key: None,
        }
    }
}

impl Importer<'_> {
    /// The passphrase an export's signing keys are sealed under (`--passphrase-file`).
    pub fn with_passphrase(mut self, passphrase: Secret<Vec<u8>>) -> Self {
        self.passphrase = Some(passphrase);
        self
    }

    /// An export's signing key opened with the passphrase (derived once per file, off the async
    /// workers), or the reason it is refused. `None`: no passphrase was given.
    async fn open_key(&mut self, key: &gatehouse::MovedKey) -> Option<Result<SigningKey, String>> {
        let passphrase = self.passphrase.clone()?;
        let Some(seal) = self.key_seal.clone() else {
            return Some(Err("a signing key before the file's key_seal line".into()));
        };
        if self.file_key.is_none() {
            let derived = tokio::task::spawn_blocking(move || seal.derive(&passphrase)).await;
            match derived {
                Ok(Ok(k)) => self.file_key = Some(std::sync::Arc::new(k)),
                Ok(Err(e)) => return Some(Err(e)),
                Err(e) => return Some(Err(format!("deriving the key: {e}"))),
            }
        }
        let file_key = self.file_key.as_ref()?;
        let opened = match file_key.open(&key.kid, &key.sealed) {
            Ok(secret) => secret,
            Err(e) => return Some(Err(e)),
        };
        let made = SigningKey::from_parts(
            key.kid.clone(),
            key.alg,
            opened.expose().clone(),
            key.public.clone(),
            key.created_at,
            key.not_before,
            key.retired_at,
        );
        Some(
            made.map(|k| k.issued_for(Some(key.issued_for.clone())))
                .map_err(|_| format!("signing key {} is not a {} key", key.kid, key.alg.as_str())),
        )
    }

    /// Reads every record of `input` (named `file` in refusals) as `format`, calling `progress`
    /// with the bytes read so far. Fails only when the input cannot be read or the database
    /// cannot be reached; a bad record is a refusal.
    pub async fn read(
        &mut self,
        file: &str,
        format: Format,
        input: impl Read,
        mut progress: impl FnMut(u64),
    ) -> CoreResult<()> {
        self.flush().await?;
        self.file = file.to_owned();
        let mut records = RecordReader::new(std::io::BufReader::with_capacity(1 << 16, input));
        let mut last_progress = 0;
        loop {
            let raw = records
                .next_record()
                .map_err(|e| CoreError::Unavailable(format!("reading {file}: {e}")))?;
            let Some(raw) = raw else { break };
            let parsed = match raw.bytes {
                None => Err(format!(
                    "the record is longer than {} bytes",
                    reader::MAX_RECORD_BYTES
                )),
                Some(bytes) => {
                    let parsed = parse_record(format, &bytes);
                    if parsed.is_err() && format.kind() == Kind::User {
                        if let Some(id) = record_id(&bytes) {
                            self.refused_user(&id, raw.line);
                        }
                    }
                    parsed
                }
            };
            self.push(raw.line, format.kind(), parsed).await?;
            if records.position() - last_progress >= 1 << 16 {
                last_progress = records.position();
                progress(last_progress);
            }
        }
        self.flush().await?;
        progress(records.position());
        Ok(())
    }

    /// Writes what is queued and returns the report.
    pub async fn finish(mut self) -> CoreResult<ImportReport> {
        self.flush().await?;
        Ok(self.report)
    }

    /// Remembers that the user `id` (refused on `line`) will not exist.
    pub(crate) fn refused_user(&mut self, id: &str, line: u64) {
        self.refused_users.entry(digest("user", id)).or_insert(line);
    }

    /// The line a user of this id was refused on, if one was.
    pub(crate) fn user_refused_on(&self, id: &str) -> Option<u64> {
        self.refused_users.get(&digest("user", id)).copied()
    }

    /// A member left out because its user was refused.
    pub(crate) fn drop_member(&mut self, line: u64, reason: impl Into<String>) {
        self.report.members.dropped += 1;
        if self.report.dropped.len() < REFUSALS_KEPT {
            self.report.dropped.push(Refusal {
                file: self.file.clone(),
                line,
                reason: reason.into(),
            });
        }
    }

    pub(crate) fn refuse(&mut self, kind: Kind, line: u64, reason: impl Into<String>) {
        self.report.counts(kind).refused += 1;
        if self.report.refusals.len() < REFUSALS_KEPT {
            self.report.refusals.push(Refusal {
                file: self.file.clone(),
                line,
                reason: reason.into(),
            });
        }
    }

    async fn push(
        &mut self,
        line: u64,
        kind: Kind,
        parsed: Result<Record, String>,
    ) -> CoreResult<()> {
        let record = match parsed {
            Ok(r) => r,
            Err(reason) => {
                self.refuse(kind, line, reason);
                return Ok(());
            }
        };
        if let Some(reason) = self.duplicate_in_files(line, &record) {
            // A user refused for a repeated email or username has an id no other record holds:
            // its memberships go with it. (A repeated id still names the first user.)
            if let Record::User(u) = &record {
                if !reason.starts_with("duplicate id ") {
                    self.refused_user(&u.id.clone(), line);
                }
            }
            self.refuse(record.kind(), line, reason);
            return Ok(());
        }
        let record = match record {
            Record::Header => return Ok(()),
            Record::KeySeal(seal) => {
                // A new seal: keys that follow are opened with a key derived anew.
                self.key_seal = Some(seal);
                self.file_key = None;
                return Ok(());
            }
            Record::Key(key) => match self.open_key(&key).await {
                None => {
                    self.report.keys_without_passphrase += 1;
                    return Ok(());
                }
                Some(Err(reason)) => {
                    self.refuse(Kind::Key, line, reason);
                    return Ok(());
                }
                Some(Ok(opened)) => Record::OpenedKey(Box::new(opened)),
            },
            other => other,
        };
        if self.pending.first().map(|(_, r)| r.kind()) != Some(record.kind()) {
            self.flush().await?;
        }
        self.pending.push((line, record));
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// The reason `record` repeats an earlier record of this run (same id, email, username or
    /// membership), remembering its keys when it does not.
    fn duplicate_in_files(&mut self, line: u64, record: &Record) -> Option<String> {
        let keys: Vec<(&str, String)> = match record {
            Record::User(u) => {
                let mut keys = vec![("id", u.id.clone())];
                keys.extend(u.email.clone().map(|e| ("email", e)));
                keys.extend(u.username_key.clone().map(|k| ("username", k)));
                keys
            }
            Record::Project(p) => vec![("project id", p.id.clone())],
            Record::Member(m) => vec![
                ("membership id", m.id.clone()),
                ("membership", format!("{}/{}", m.project_id, m.member_key)),
            ],
            Record::Setting { name, .. } => vec![("setting", name.clone())],
            Record::Key(k) => vec![("kid", k.kid.clone())],
            Record::OpenedKey(k) => vec![("kid", k.kid.clone())],
            Record::Header | Record::KeySeal(_) => vec![],
        };
        let digests: Vec<u64> = keys.iter().map(|(k, v)| digest(k, v)).collect();
        for ((what, value), d) in keys.iter().zip(&digests) {
            if let Some(first) = self.seen.get(d) {
                return Some(format!("duplicate {what} {value} (first on line {first})"));
            }
        }
        for d in digests {
            self.seen.insert(d, line);
        }
        None
    }

    async fn flush(&mut self) -> CoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        bulk::write(self, batch).await
    }

    pub(crate) fn remember(&mut self, kind: &str, id: &str) {
        if self.opts.dry_run {
            self.assumed.insert(digest(kind, id));
        }
    }

    pub(crate) fn would_exist(&self, kind: &str, id: &str) -> bool {
        self.assumed.contains(&digest(kind, id))
    }
}

/// The id a record's JSON names (`id`, `_id`, or `_id: {"$oid": ...}`), read from a record that
/// was refused, so that what refers to it can say why it is left out.
fn record_id(bytes: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let id = doc.get("id").or_else(|| doc.get("_id"))?;
    let id = id.get("$oid").unwrap_or(id).as_str()?;
    is_object_id(id).then(|| id.to_owned())
}

/// One record's bytes read as `format` and given the checks every source shares: all the importer
/// does with a record before it looks at the database (a refusal is the reason). Public so the
/// fuzz targets (fuzz/) call what `gatehouse import` calls.
pub fn parse_record(format: Format, bytes: &[u8]) -> Result<Record, String> {
    parse(format, bytes).and_then(checked)
}

fn parse(format: Format, bytes: &[u8]) -> Result<Record, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(doc) = value else {
        return Err("not a JSON object".into());
    };
    match format {
        Format::TiledeskUsers => tiledesk::user(&doc),
        Format::TiledeskProjects => tiledesk::project(&doc),
        Format::TiledeskMembers => tiledesk::member(&doc),
        Format::AppmixerUsers => appmixer::user(&doc),
        Format::Gatehouse => gatehouse::record(doc),
    }
}

/// The checks every source shares: ids shaped as Gatehouse's, storable text, known hash formats.
fn checked(record: Record) -> Result<Record, String> {
    let id_ok = |what: &str, id: &str| {
        if is_object_id(id) {
            Ok(())
        } else {
            Err(format!(
                "{what} '{}' is not an ObjectId (24 hex digits)",
                clip(id)
            ))
        }
    };
    match &record {
        Record::User(u) => {
            id_ok("_id", &u.id)?;
            if let Some(hash) = &u.password_hash {
                if !known_hash(hash) {
                    return Err(
                        "the password hash is neither bcrypt ($2a$, $2b$ or $2y$) nor an \
                                argon2id PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$hash)"
                            .into(),
                    );
                }
            }
            if u.email.is_none() && u.username.is_none() {
                return Err("neither an email nor a username".into());
            }
            for text in [&u.firstname, &u.lastname, &u.plan, &u.metadata, &u.profile] {
                crate::validated::storable("field", text).map_err(|_| "a field contains NUL")?;
            }
        }
        Record::Project(p) => {
            id_ok("_id", &p.id)?;
            let name = p.name.trim();
            if name.is_empty() || name.chars().count() > 256 || name.contains('\0') {
                return Err("the project name must be 1 to 256 characters".into());
            }
        }
        Record::Member(m) => {
            id_ok("_id", &m.id)?;
            id_ok("id_project", &m.project_id)?;
            crate::validated::storable("member", &m.member_key)
                .map_err(|_| "a field contains NUL")?;
        }
        Record::Setting { .. }
        | Record::Header
        | Record::KeySeal(_)
        | Record::Key(_)
        | Record::OpenedKey(_) => {}
    }
    Ok(record)
}

/// A hash Gatehouse verifies, kept as it is: bcrypt (see `known_bcrypt`) or argon2id in PHC form
/// (see `known_argon2id`), the two formats Gatehouse itself writes.
pub fn known_hash(hash: &str) -> bool {
    known_bcrypt(hash) || known_argon2id(hash)
}

/// An argon2id hash in PHC string form, as the `password-hash` crate reads it: parameters argon2
/// accepts (memory, iterations, lanes), a salt and an output. Whether the parameters are within
/// this server's caps is decided at sign-in (`hashing.max_argon2_*`), as for any stored hash.
pub fn known_argon2id(hash: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return false;
    };
    let version_ok = parsed
        .version
        .is_none_or(|v| argon2::Version::try_from(v).is_ok());
    parsed.algorithm == argon2::Algorithm::Argon2id.ident()
        && version_ok
        && argon2::Params::try_from(&parsed).is_ok()
        && parsed.salt.is_some_and(|s| {
            let mut buf = [0u8; 64];
            s.decode_b64(&mut buf)
                .is_ok_and(|b| b.len() >= argon2::MIN_SALT_LEN)
        })
        && parsed
            .hash
            .is_some_and(|h| (argon2::Params::MIN_OUTPUT_LEN..=64).contains(&h.len()))
}

/// A modular-crypt bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 4 to 31, and 53
/// characters of salt and digest.
pub fn known_bcrypt(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    let cost = hash.get(4..6).and_then(|c| c.parse::<u32>().ok());
    bytes.len() == 60
        && matches!(hash.get(..4), Some("$2a$" | "$2b$" | "$2y$"))
        && cost.is_some_and(|c| (4..=31).contains(&c))
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
}

/// A value shown in a refusal, cut short.
pub(crate) fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_parsed_and_checked_or_refused_with_a_reason() {
        let hash = "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234";
        let line = |id: &str| {
            format!(r#"{{"_id": {{"$oid": "{id}"}}, "email": "a@b.io", "password": "{hash}"}}"#)
        };
        let ok = parse_record(
            Format::TiledeskUsers,
            line("5f1b2c3d4e5f6a7b8c9d0e1f").as_bytes(),
        );
        assert!(matches!(ok, Ok(Record::User(u)) if u.email.as_deref() == Some("a@b.io")));
        // The source's parser takes any id; the shared checks refuse one Gatehouse cannot keep.
        let Err(reason) = parse_record(Format::TiledeskUsers, line("x").as_bytes()) else {
            panic!("a non-ObjectId id was accepted")
        };
        assert!(reason.contains("ObjectId"), "{reason}");
        for bad in [&b"{"[..], b"[1]", b"\xff"] {
            assert!(parse_record(Format::AppmixerUsers, bad).is_err());
        }
    }

    #[test]
    fn argon2id_phc_strings_are_known_with_their_parameters_and_others_are_not() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(1024, 2, 1, None).unwrap();
        let a2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let hash = a2.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=2,p=1$"), "{hash}");
        assert!(known_hash(&hash));
        let (head, digest) = hash.rsplit_once('$').unwrap();
        for bad in [
            hash.replace("$argon2id$", "$argon2i$"),
            hash.replace("m=1024", "m=1"),
            hash.replace("t=2", "t=0"),
            head.to_owned(),
            format!("{head}$!!!"),
            format!("{head}${}", &digest[..4]),
            hash.replace("v=19", "v=99"),
            "$argon2id$v=19$m=1024,t=2,p=1".to_owned(),
        ] {
            assert!(!known_hash(&bad), "{bad}");
        }
    }

    #[test]
    fn bcrypt_hashes_of_every_variant_are_known_and_others_are_not() {
        let h = bcrypt::hash("pw", 4).unwrap();
        let body = &h[4..];
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            assert!(known_hash(&format!("{prefix}{body}")), "{prefix}");
        }
        for bad in [
            "",
            "plaintext",
            "$2x$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "$1$abc$def",
            &format!("$2b$03{}", &h[6..]),
            &h[..59],
            &format!("{}!", &h[..59]),
        ] {
            assert!(!known_hash(bad), "{bad}");
        }
    }
}
