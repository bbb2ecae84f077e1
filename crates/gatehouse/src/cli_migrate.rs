//! The import, export and legacy-key commands: they open files, draw a progress bar on a terminal
//! (indicatif; none when stderr is not one) and print the report. Everything else is core's
//! `migrate` module.

use clap::{Args, Subcommand};
use gatehouse_core::audit::{kind, Outcome, Record};
use gatehouse_core::migrate::{Format, ImportOptions, ImportReport, Importer};
use gatehouse_core::token::LegacyKeyMaterial;
use gatehouse_core::{Core, CoreError, Tenant};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// tiledesk-server's users, projects and project_users as `mongoexport` writes them (JSON
    /// lines or --jsonArray; Extended JSON relaxed or canonical).
    Tiledesk {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        users: PathBuf,
        #[arg(long)]
        projects: Option<PathBuf>,
        #[arg(long = "project-users")]
        project_users: Option<PathBuf>,
        #[command(flatten)]
        options: ImportFlags,
    },
    /// Appmixer user records (`_id`, `username`, `email`, bcrypt `password`, `scope`, `plan`,
    /// `created`), JSON lines or one array.
    Appmixer {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        users: PathBuf,
        #[command(flatten)]
        options: ImportFlags,
    },
    /// A file `gatehouse export` wrote (from any deployment, SQLite or PostgreSQL).
    Gatehouse {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        file: PathBuf,
        /// The passphrase an export made `--with-keys` sealed its signing keys under: they are
        /// sealed again under this deployment's master key (without it, they are skipped).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        options: ImportFlags,
    },
}

#[derive(Debug, Args)]
pub struct ImportFlags {
    /// Check every record and report, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite records whose id exists (by default they are skipped and counted).
    #[arg(long)]
    pub update: bool,
    /// Write the records that pass and leave out the refused ones (by default one refused record
    /// means nothing is written). The exit status is still non-zero when any was refused.
    #[arg(long)]
    pub skip_invalid: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub tenant: String,
    /// Write here (created with mode 0600; an existing file is refused) instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the tenant's signing keys, sealed under the passphrase of --passphrase-file,
    /// so tokens issued before a move keep verifying after it.
    #[arg(long, requires = "passphrase_file")]
    pub with_keys: bool,
    /// A file holding the passphrase (at least 12 bytes; one trailing newline is dropped).
    #[arg(long, requires = "with_keys")]
    pub passphrase_file: Option<PathBuf>,
}

fn read_passphrase(path: &Path) -> Result<gatehouse_core::secret::Secret<Vec<u8>>, CoreError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    gatehouse_core::migrate::gatehouse::passphrase(bytes)
}

#[derive(Debug, Args)]
pub struct ImportKeyArgs {
    pub slug: String,
    /// HS256 (tiledesk-server's GLOBAL_SECRET) or RS256 (GLOBAL_SECRET_OR_PRIVATE_KEY).
    #[arg(long)]
    pub alg: String,
    /// A file holding the HS256 secret (one trailing newline is dropped).
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// A file holding the RS256 private key in PEM (PKCS#1 or PKCS#8); only its public half is kept.
    #[arg(long)]
    pub private_key_pem: Option<PathBuf>,
}

fn file_error(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::invalid("file", format!("{}: {e}", path.display()))
}

fn bar(len: u64, message: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(message);
    bar
}

async fn read_file(imp: &mut Importer<'_>, path: &Path, format: Format) -> Result<(), CoreError> {
    let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let name = path.display().to_string();
    let progress = bar(len, name.clone());
    let read = imp
        .read(&name, format, file, |n| progress.set_position(n))
        .await;
    progress.finish_and_clear();
    read
}

/// What became of the records that passed when some were refused.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    /// A dry run: nothing was to be written.
    DryRun,
    /// Refusals stopped the import before anything was written.
    Nothing,
    /// `--skip-invalid`: the others were written.
    TheOthers,
}

/// Prints each refusal and dropped member (stderr) and the summary (stdout); an error when
/// anything was refused.
fn report(report: &ImportReport, written: Written) -> Result<(), CoreError> {
    for r in &report.refusals {
        eprintln!("{} line {}: {}", r.file, r.line, r.reason);
    }
    let refused = report.refused();
    if refused > report.refusals.len() as u64 {
        eprintln!("... and {} more", refused - report.refusals.len() as u64);
    }
    for r in &report.dropped {
        eprintln!("{} line {}: {}", r.file, r.line, r.reason);
    }
    println!("{}", report.summary());
    if refused > 0 {
        let outcome = match written {
            Written::DryRun => "a dry run: nothing was written",
            Written::Nothing => {
                "nothing was written (fix them, or pass --skip-invalid to write the others)"
            }
            Written::TheOthers => "the others were written",
        };
        return Err(CoreError::invalid(
            "import",
            format!("{refused} records refused (listed above); {outcome}"),
        ));
    }
    Ok(())
}

/// One pass over every file.
async fn pass(
    core: &Core,
    tenant: &Tenant,
    opts: ImportOptions,
    files: &[(PathBuf, Format)],
    passphrase: Option<&gatehouse_core::secret::Secret<Vec<u8>>>,
) -> Result<ImportReport, CoreError> {
    let mut imp = core.importer(tenant, opts);
    if let Some(p) = passphrase {
        imp = imp.with_passphrase(p.clone());
    }
    for (path, format) in files {
        read_file(&mut imp, path, *format).await?;
    }
    imp.finish().await
}

pub async fn import(core: &Core, command: ImportCmd) -> Result<(), CoreError> {
    let mut passphrase = None;
    let (slug, options, files) = match command {
        ImportCmd::Tiledesk {
            tenant,
            users,
            projects,
            project_users,
            options,
        } => {
            let mut files = vec![(users, Format::TiledeskUsers)];
            files.extend(projects.map(|p| (p, Format::TiledeskProjects)));
            files.extend(project_users.map(|p| (p, Format::TiledeskMembers)));
            (tenant, options, files)
        }
        ImportCmd::Appmixer {
            tenant,
            users,
            options,
        } => (tenant, options, vec![(users, Format::AppmixerUsers)]),
        ImportCmd::Gatehouse {
            tenant,
            file,
            passphrase_file,
            options,
        } => {
            passphrase = passphrase_file
                .as_deref()
                .map(read_passphrase)
                .transpose()?;
            (tenant, options, vec![(file, Format::Gatehouse)])
        }
    };
    let tenant = super::cli::tenant(core, &slug).await?;
    // All or nothing: every record is checked first (a dry run: the same checks, against the
    // database as it is, nothing written); one refusal and nothing is written, unless
    // --skip-invalid. Batches are then written as they pass.
    let checked = pass(
        core,
        &tenant,
        ImportOptions {
            dry_run: true,
            update: options.update,
        },
        &files,
        passphrase.as_ref(),
    )
    .await?;
    if options.dry_run {
        return report(&checked, Written::DryRun);
    }
    if checked.refused() > 0 && !options.skip_invalid {
        core.audit(
            &tenant,
            Record::new(kind::IMPORT, Outcome::Failure).detail(format!(
                "nothing written: {} records refused",
                checked.refused()
            )),
        );
        return report(&checked, Written::Nothing);
    }
    let opts = ImportOptions {
        dry_run: false,
        update: options.update,
    };
    let done = pass(core, &tenant, opts, &files, passphrase.as_ref()).await?;
    {
        let outcome = if done.refused() > 0 {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        core.audit(
            &tenant,
            Record::new(kind::IMPORT, outcome).detail(done.summary()),
        );
    }
    report(&done, Written::TheOthers)
}

pub async fn export(core: &Core, args: ExportArgs) -> Result<(), CoreError> {
    let tenant: std::sync::Arc<Tenant> = super::cli::tenant(core, &args.tenant).await?;
    let passphrase = match (&args.passphrase_file, args.with_keys) {
        (Some(path), true) => Some(read_passphrase(path)?),
        _ => None,
    };
    if passphrase.is_some() && args.out.is_none() && std::io::stdout().is_terminal() {
        return Err(CoreError::invalid(
            "out",
            "an export with keys is not written to a terminal: name a file with --out",
        ));
    }
    let total = core.count_users(&tenant).await?.max(0) as u64;
    let progress = bar(total, format!("{} users", tenant.slug));
    progress.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let done = match &args.out {
        Some(path) => {
            let file = gatehouse_core::master_key::create_private(path)
                .map_err(|e| file_error(path, e))?;
            let mut out = std::io::BufWriter::new(file);
            core.export_with(&tenant, &mut out, passphrase.as_ref(), |n| {
                progress.set_position(n)
            })
            .await?
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            core.export_with(&tenant, &mut out, passphrase.as_ref(), |n| {
                progress.set_position(n)
            })
            .await?
        }
    };
    progress.finish_and_clear();
    let mut line = format!(
        "exported {} users, {} projects, {} members, {} settings of {}",
        done.users, done.projects, done.members, done.settings, tenant.slug
    );
    if args.with_keys {
        line.push_str(&format!(
            " and {} signing keys (sealed under the passphrase)",
            done.keys
        ));
    }
    core.audit(&tenant, Record::success(kind::EXPORT).detail(line.clone()));
    // The export itself may be on stdout: the summary then goes to stderr.
    match args.out {
        Some(path) => println!("{line} to {}", path.display()),
        None => eprintln!("{line}"),
    }
    Ok(())
}

pub async fn import_key(core: &Core, args: ImportKeyArgs) -> Result<(), CoreError> {
    let tenant = super::cli::tenant(core, &args.slug).await?;
    let read = |path: &Path| std::fs::read(path).map_err(|e| file_error(path, e));
    let material = match (
        args.alg.trim().to_ascii_uppercase().as_str(),
        &args.secret_file,
        &args.private_key_pem,
    ) {
        ("HS256", Some(path), None) => {
            let mut secret = read(path)?;
            if secret.ends_with(b"\n") {
                secret.pop();
                if secret.ends_with(b"\r") {
                    secret.pop();
                }
            }
            LegacyKeyMaterial::Hs256(secret)
        }
        ("RS256", None, Some(path)) => LegacyKeyMaterial::Rs256PrivatePem(
            String::from_utf8(read(path)?)
                .map_err(|_| CoreError::invalid("private key", "the PEM file is not text"))?,
        ),
        _ => {
            return Err(CoreError::invalid(
                "alg",
                "use --alg HS256 --secret-file FILE or --alg RS256 --private-key-pem FILE",
            ))
        }
    };
    let kid = core.import_legacy_key(&tenant, material).await?;
    println!(
        "{}: legacy key {kid} ({}) imported; tokens without a kid verify with it until LEGACY_TOKENS_UNTIL",
        tenant.slug,
        args.alg.trim().to_ascii_uppercase()
    );
    Ok(())
}
