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
pub mod reader;
pub mod tiledesk;

use crate::error::{CoreError, CoreResult};
use crate::ids::is_object_id;
use crate::service::Core;
use crate::storage::models::{MemberRow, ProjectRow, UserRow};
use crate::tenants::Tenant;
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
}

impl Record {
    fn kind(&self) -> Kind {
        match self {
            Record::User(_) => Kind::User,
            Record::Project(_) => Kind::Project,
            Record::Member(_) => Kind::Member,
            Record::Setting { .. } | Record::Header => Kind::Setting,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    User,
    Project,
    Member,
    Setting,
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
    /// The first refusals, in order (every one is counted in its kind's `refused`).
    pub refusals: Vec<Refusal>,
    pub dry_run: bool,
}

impl ImportReport {
    pub fn refused(&self) -> u64 {
        self.users.refused + self.projects.refused + self.members.refused + self.settings.refused
    }

    pub(crate) fn counts(&mut self, kind: Kind) -> &mut Counts {
        match kind {
            Kind::User => &mut self.users,
            Kind::Project => &mut self.projects,
            Kind::Member => &mut self.members,
            Kind::Setting => &mut self.settings,
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
        ] {
            if c != Counts::default() || name == "users" {
                parts.push(format!(
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
                ));
            }
        }
        let mut line = parts.join("; ");
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
        }
    }
}

impl Importer<'_> {
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
                Some(bytes) => parse_record(format, &bytes),
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
            self.refuse(record.kind(), line, reason);
            return Ok(());
        }
        if matches!(record, Record::Header) {
            return Ok(());
        }
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
            Record::Header => vec![],
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
                    return Err("the password hash is not bcrypt ($2a$, $2b$ or $2y$)".into());
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
        Record::Setting { .. } | Record::Header => {}
    }
    Ok(record)
}

/// A modular-crypt bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 4 to 31, and 53
/// characters of salt and digest.
pub fn known_hash(hash: &str) -> bool {
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
