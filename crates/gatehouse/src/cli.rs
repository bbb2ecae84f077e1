//! The command line: `serve` (the default), `migrate`, and the tenant, user and project commands
//! operators and tenant admins use. Every command applies pending migrations first; errors are one
//! line on stderr and a non-zero exit.

use crate::app::{open_core, Application};
use crate::config::Config;
use clap::{Args, Parser, Subcommand};
use gatehouse_core::operator::OperatorNewUser;
use gatehouse_core::secret::Secret;
use gatehouse_core::seed::SeedSpec;
use gatehouse_core::storage::DbUrl;
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::token::KeyAlg;
use gatehouse_core::{Api, Core, CoreError, Email, Password, SystemClock, TenantSlug};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A multi-tenant authentication gateway speaking the Tiledesk and Appmixer auth APIs"
)]
pub struct Cli {
    /// A TOML file layered over config/default.toml (also GATEHOUSE_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, create bootstrap tenants and serve (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create, list and configure tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Create, disable, enable and seed users.
    #[command(subcommand)]
    User(UserCmd),
    /// Create Tiledesk projects.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// End issued tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The master key that seals signing keys and project secrets at rest.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// Bring users, projects and members in from tiledesk-server, Appmixer or a Gatehouse export.
    #[command(subcommand)]
    Import(crate::cli_migrate::ImportCmd),
    /// Write a tenant's users (with hashes), projects, members and settings as JSON lines.
    Export(crate::cli_migrate::ExportArgs),
    /// A tenant's audit log, newest first.
    Audit(crate::audit_cli::AuditArgs),
    /// Operator API keys (the operator API and console on `server.admin_bind`).
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// Clients that may call a tenant's POST /oauth/introspect (HTTP Basic client_id:client_secret).
    #[command(subcommand)]
    IntrospectionClient(crate::introspection_cli::IntrospectionClientCmd),
    /// Ask this node's /readyz (on `server.bind`): exit 0 when ready, 1 otherwise (a container's
    /// healthcheck; opens no database).
    Healthcheck(crate::healthcheck::HealthcheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum OperatorCmd {
    /// Create, list and revoke operator API keys.
    #[command(subcommand)]
    Key(OperatorKeyCmd),
}

#[derive(Debug, Subcommand)]
pub enum OperatorKeyCmd {
    /// Make a key and print it once (only a hash of it is stored).
    Create {
        #[arg(long)]
        name: String,
    },
    /// One line a key: name, id, created, and whether it is revoked.
    List,
    /// Revoke the active key named NAME: calls with it get 401 from now on.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Seal every stored secret again under the current master key (after a rotation, with the
    /// old key in GATEHOUSE_MASTER_KEY_PREVIOUS); then the old key is no longer needed.
    Reencrypt,
    /// Print a new random master key (base64 of 32 bytes) for GATEHOUSE_MASTER_KEY or a key file.
    GenerateKey,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// End one token, named by its `jti` or given whole, on every node (at once on PostgreSQL,
    /// within `tenants.refresh_seconds` on SQLite). A jti the tenant cannot have issued (not a
    /// UUIDv7 of the tenant's lifetime, or already expired) is refused.
    Revoke {
        #[command(flatten)]
        tenant: TenantArg,
        /// The token's jti, or the whole token (its signature is checked).
        jti: String,
        /// Record the jti even though the tenant cannot have issued it.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant (both APIs when none is named).
    Create {
        slug: String,
        #[arg(long = "host")]
        hosts: Vec<String>,
        #[arg(long = "api")]
        apis: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        /// The kind of its first signing key: HS256 (the default), EdDSA or RS256.
        #[arg(long, default_value = "HS256")]
        alg: String,
    },
    /// One line a tenant: slug, hosts, apis.
    List,
    /// Set a setting, e.g. `tenant set acme API_USER_CREATE_SCOPE admin`.
    Set {
        slug: String,
        key: String,
        value: String,
    },
    /// Unset a setting (back to its default).
    Unset { slug: String, key: String },
    /// Add a signing key; older keys verify until retired. An EdDSA or RS256 key is published in
    /// the JWKS `--lead` seconds before it signs.
    RotateKey {
        slug: String,
        /// HS256, EdDSA or RS256 (default: the algorithm the tenant signs with now).
        #[arg(long)]
        alg: Option<String>,
        /// Allow moving from a published key (EdDSA, RS256) to HS256: services verifying through
        /// the JWKS stop verifying the tenant's new tokens.
        #[arg(long)]
        allow_unpublished: bool,
        /// Seconds between publishing and signing. Default for EdDSA/RS256: the JWKS max-age plus
        /// the time every node takes to see the key (2 x tenants.refresh_seconds); HS256: 0.
        #[arg(long)]
        lead: Option<u64>,
    },
    /// Retire a signing key: tokens it signed stop verifying.
    RetireKey { slug: String, kid: String },
    /// Delete a tenant and everything it owns (users, projects, keys, settings, hosts).
    Delete { slug: String },
    /// Bulk-create COUNT tenants PREFIXnnnnn (no hosts; reached through the host patterns), each
    /// with an HS256 key: for load tests and demos.
    Seed {
        #[arg(long)]
        count: u64,
        #[arg(long, default_value = "seed-")]
        prefix: String,
        /// The first n (to add more tenants after an earlier seed).
        #[arg(long, default_value_t = 0)]
        first: u64,
        /// A setting every seeded tenant gets, KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Import the signing key of the tiledesk-server this tenant replaces, so its tokens (no kid,
    /// no exp) keep verifying until LEGACY_TOKENS_UNTIL.
    ImportKey(crate::cli_migrate::ImportKeyArgs),
}

#[derive(Debug, Args)]
pub struct TenantArg {
    #[arg(long)]
    pub tenant: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user (the first admin of a tenant comes from here).
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        email: String,
        /// The password (or set GATEHOUSE_PASSWORD, which keeps it out of the process list).
        #[arg(long, env = "GATEHOUSE_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        username: Option<String>,
        /// Scopes besides `user`, e.g. `--scope admin`.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long, default_value = "")]
        firstname: String,
        #[arg(long, default_value = "")]
        lastname: String,
    },
    /// Disable a user: no sign-in, and their tokens are refused.
    Disable {
        #[command(flatten)]
        tenant: TenantArg,
        email: String,
    },
    /// Enable a disabled user.
    Enable {
        #[command(flatten)]
        tenant: TenantArg,
        email: String,
    },
    /// End every token the user holds now ("sign out everywhere"); later sign-ins work.
    RevokeTokens {
        #[command(flatten)]
        tenant: TenantArg,
        email: String,
    },
    /// Print a password-reset link (and its code) for the account of EMAIL, for an operator to
    /// hand over; nothing is mailed. The code works once, for RESET_CODE_TTL_SECONDS.
    ResetLink {
        #[command(flatten)]
        tenant: TenantArg,
        email: String,
    },
    /// Bulk-create COUNT active users PREFIXn@DOMAIN (username PREFIXn) sharing one password,
    /// hashed once: for load tests and demos (a million users take minutes).
    Seed {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        count: u64,
        /// The password every seeded user signs in with (or set GATEHOUSE_PASSWORD).
        #[arg(long, env = "GATEHOUSE_PASSWORD", hide_env_values = true)]
        password: String,
        /// bcrypt cost of the one hash (default: the tenant's BCRYPT_COST; a user whose hash has
        /// another cost is re-hashed at the tenant's cost on their first sign-in).
        #[arg(long)]
        cost: Option<u32>,
        #[arg(long, default_value = "seed")]
        prefix: String,
        #[arg(long, default_value = "example.com")]
        domain: String,
        /// The first n (to add more users after an earlier seed).
        #[arg(long, default_value_t = 0)]
        first: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Create a Tiledesk project; prints its id and a fresh jwtSecret.
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner: String,
    },
}

/// Parses the command line, runs the command, and turns any failure into one line on stderr.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                eprintln!("error: a subcommand is missing (see gatehouse --help)");
                return ExitCode::from(2);
            }
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{first} (see gatehouse --help)");
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let system = actix_web::rt::System::new();
    match system.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, whatever the database driver put in its message.
            let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// Whether the command may create the database (and, on SQLite, its master key file):
    /// those that start a deployment or add tenants to it. Every other command works on a
    /// database that exists, so a wrong working directory or a forgotten variable is an error
    /// instead of a fresh empty database that answers "not found" (or worse, "done").
    fn may_create(&self) -> bool {
        matches!(
            self,
            Command::Serve
                | Command::Migrate
                | Command::Tenant(TenantCmd::Create { .. } | TenantCmd::Seed { .. })
        )
    }
}

/// The database a command acts on, as its first line on stderr says it: the URL without its
/// password, and a relative SQLite path with the absolute path it resolves to here.
fn database_line(url: &DbUrl) -> String {
    match url {
        DbUrl::Sqlite(path) if !std::path::Path::new(path).is_absolute() => {
            match std::path::absolute(path) {
                Ok(abs) => format!("{} ({})", url.display(), abs.display()),
                Err(_) => url.display(),
            }
        }
        _ => url.display(),
    }
}

/// A SQLite file that is not there: the error names it and how to choose another, and nothing
/// is created.
fn require_existing_database(url: &DbUrl) -> Result<(), String> {
    let DbUrl::Sqlite(path) = url else {
        return Ok(());
    };
    if path.contains(":memory:") || path.starts_with("file:") || std::path::Path::new(path).exists()
    {
        return Ok(());
    }
    Err(format!(
        "database {}: no such file; this command works on an existing database and creates \
         none. Name the right one with --config FILE or GATEHOUSE__DATABASE__URL (e.g. \
         sqlite:///var/lib/gatehouse/gatehouse.db or postgres://user@host:5432/db), or create \
         this one with `gatehouse migrate`",
        database_line(url)
    ))
}

pub async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    let command = cli.command.unwrap_or(Command::Serve);
    // Opens no database: a container's healthcheck asks the node it runs beside.
    if let Command::Healthcheck(args) = &command {
        return crate::healthcheck::run(&config.server.bind, args);
    }
    // Needs no database: a key for a deployment that has none yet.
    if let Command::Secrets(SecretsCmd::GenerateKey) = command {
        println!("{}", gatehouse_core::sealed::MasterKey::generate_base64());
        return Ok(());
    }
    let url = DbUrl::parse(&config.database.url).map_err(|e| describe(&e))?;
    eprintln!("gatehouse: database {}", database_line(&url));
    let create = command.may_create();
    if !create {
        require_existing_database(&url)?;
    }
    match command {
        Command::Serve => serve(config).await,
        command => {
            let core = open_core(
                &config,
                Arc::new(SystemClock),
                prometheus::Registry::new(),
                create,
            )
            .await
            .map_err(|e| describe(&e))?;
            let defaults = Defaults {
                key_lead_secs: config.tenants.refresh_seconds.max(1) * 2,
            };
            // The command's audit events carry the operator context, and are written before exit.
            let done = gatehouse_core::audit::AuditContext::operator()
                .scope(admin(&core, command, defaults))
                .await;
            if let Err(e) = core.flush_audit().await {
                log::warn!("audit events of this command may be lost: {e}");
            }
            done.map_err(|e| describe(&e))
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let bind = config.server.bind.clone();
    let db = gatehouse_core::storage::DbUrl::parse(&config.database.url)
        .map(|u| u.display())
        .map_err(|e| describe(&e))?;
    let app = Application::build(config).await?;
    log::info!(
        "gatehouse serving on {bind} (port {}), database {db}",
        app.port()
    );
    // The audit events of the last requests are written before it returns.
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

/// One clear line for an operator.
fn describe(e: &CoreError) -> String {
    match e {
        CoreError::InvalidInput { field, message } => format!("{field}: {message}"),
        CoreError::NotFound(what) => format!("{what} not found"),
        other => other.to_string(),
    }
}

pub(crate) async fn tenant(
    core: &Core,
    slug: &str,
) -> Result<Arc<gatehouse_core::Tenant>, CoreError> {
    core.require_tenant(&TenantSlug::parse(slug)?).await
}

/// What the commands take from the configuration.
struct Defaults {
    /// The publish-before-signing lead of a rotated-in EdDSA or RS256 key: a node sees a new key
    /// within `tenants.refresh_seconds`, and a JWKS may be cached for as long again.
    key_lead_secs: u64,
}

async fn admin(core: &Core, command: Command, defaults: Defaults) -> Result<(), CoreError> {
    let disable = matches!(command, Command::User(UserCmd::Disable { .. }));
    match command {
        Command::Serve | Command::Healthcheck(_) => unreachable!("handled by run"),
        Command::Migrate => println!("migrations applied"),
        Command::Audit(args) => crate::audit_cli::run(core, args).await?,
        Command::Secrets(SecretsCmd::GenerateKey) => unreachable!("handled by run"),
        Command::Secrets(SecretsCmd::Reencrypt) => {
            let done = core
                .reseal_secrets(gatehouse_core::reseal::Reseal::Everything)
                .await?;
            println!(
                "{} secrets checked, {} sealed again under master key {}",
                done.checked,
                done.rewritten,
                core.master_key_id()
            );
        }
        Command::Tenant(TenantCmd::Create {
            slug,
            hosts,
            apis,
            name,
            alg,
        }) => {
            let mut spec = TenantSpec::new(TenantSlug::parse(&slug)?);
            spec.alg = KeyAlg::parse(&alg)?;
            spec.hosts = hosts;
            spec.name = name;
            spec.apis = apis
                .iter()
                .map(|a| Api::parse(a))
                .collect::<Result<_, _>>()?;
            let t = core.create_tenant(spec).await?;
            println!("{}", tenant_line(&t));
        }
        Command::Tenant(TenantCmd::List) => {
            for t in core.tenants() {
                println!("{}", tenant_line(&t));
            }
        }
        Command::Tenant(TenantCmd::Set { slug, key, value }) => {
            let t = tenant(core, &slug).await?;
            core.set_setting(&t, &key, &value).await?;
            println!("{slug}: {key} set");
        }
        Command::Tenant(TenantCmd::Unset { slug, key }) => {
            let t = tenant(core, &slug).await?;
            core.unset_setting(&t, &key).await?;
            println!("{slug}: {key} unset");
        }
        Command::Tenant(TenantCmd::RotateKey {
            slug,
            alg,
            allow_unpublished,
            lead,
        }) => {
            let t = tenant(core, &slug).await?;
            let current = t.keys.current_alg();
            let alg = match alg {
                Some(alg) => KeyAlg::parse(&alg)?,
                None => current.unwrap_or_default(),
            };
            let lead = lead.unwrap_or(if alg.is_asymmetric() {
                defaults.key_lead_secs
            } else {
                0
            });
            let kid = core
                .rotate_key_with(&t, alg, lead, allow_unpublished)
                .await?;
            if current.is_some_and(KeyAlg::is_asymmetric) && !alg.is_asymmetric() {
                eprintln!(
                    "warning: {slug} now signs with {}, which is not published: services verifying \
                     its tokens through /.well-known/jwks.json stop verifying new tokens",
                    alg.as_str()
                );
            }
            if lead == 0 {
                println!("{slug}: new signing key {kid} ({})", alg.as_str());
            } else {
                println!(
                    "{slug}: new signing key {kid} ({}), signing in {lead} s",
                    alg.as_str()
                );
            }
        }
        Command::Tenant(TenantCmd::Seed {
            count,
            prefix,
            first,
            settings,
        }) => {
            let mut map = std::collections::BTreeMap::new();
            for pair in settings {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| CoreError::invalid("set", "must be KEY=VALUE"))?;
                map.insert(k.to_owned(), v.to_owned());
            }
            let started = std::time::Instant::now();
            let done = core
                .seed_tenants(&prefix, first, count, map, |_| {})
                .await?;
            println!(
                "seeded {done} tenants {prefix}{first:05}.. in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Tenant(TenantCmd::Delete { slug }) => {
            core.delete_tenant(&TenantSlug::parse(&slug)?).await?;
            println!("{slug}: deleted");
        }
        Command::Operator(OperatorCmd::Key(cmd)) => operator_key(core, cmd).await?,
        Command::IntrospectionClient(cmd) => crate::introspection_cli::run(core, cmd).await?,
        Command::Import(command) => crate::cli_migrate::import(core, command).await?,
        Command::Export(args) => crate::cli_migrate::export(core, args).await?,
        Command::Tenant(TenantCmd::ImportKey(args)) => {
            crate::cli_migrate::import_key(core, args).await?
        }
        Command::Tenant(TenantCmd::RetireKey { slug, kid }) => {
            let t = tenant(core, &slug).await?;
            core.retire_key(&t, &kid).await?;
            println!("{slug}: key {kid} retired");
        }
        Command::User(UserCmd::Create {
            tenant: TenantArg { tenant: slug },
            email,
            password,
            username,
            scopes,
            firstname,
            lastname,
        }) => {
            let t = tenant(core, &slug).await?;
            let input = OperatorNewUser {
                email,
                password: Secret::new(password),
                username,
                scopes,
                firstname,
                lastname,
            };
            let user = core.operator_create_user(&t, input).await?;
            let email = user.email.as_deref().unwrap_or("-");
            println!("{} {email} {}", user.id, user.scopes.join(","));
        }
        Command::User(
            UserCmd::Disable {
                tenant: TenantArg { tenant: slug },
                email,
            }
            | UserCmd::Enable {
                tenant: TenantArg { tenant: slug },
                email,
            },
        ) => {
            let t = tenant(core, &slug).await?;
            let u = core
                .set_disabled(&t, &Email::parse(&email)?, disable)
                .await?;
            println!(
                "{} {}",
                u.email.as_deref().unwrap_or(&email),
                if disable { "disabled" } else { "enabled" }
            );
        }
        Command::User(UserCmd::RevokeTokens {
            tenant: TenantArg { tenant: slug },
            email,
        }) => {
            let t = tenant(core, &slug).await?;
            let email = Email::parse(&email)?;
            let user = core
                .user_by_email(&t, &email)
                .await?
                .ok_or(CoreError::NotFound("user"))?;
            core.revoke_user_tokens(&t, &user.id).await?;
            println!("{}: tokens issued until now are ended", email.as_str());
        }
        Command::User(UserCmd::ResetLink {
            tenant: TenantArg { tenant: slug },
            email,
        }) => {
            let t = tenant(core, &slug).await?;
            let email = Email::parse(&email)?;
            let (code, link) = core
                .reset_link(&t, &email, gatehouse_tiledesk::MAIL_LINKS)
                .await?;
            println!("{link}");
            println!("code: {code}");
        }
        Command::Token(TokenCmd::Revoke {
            tenant: TenantArg { tenant: slug },
            jti,
            force,
        }) => {
            let t = tenant(core, &slug).await?;
            let jti = core.revoke_issued_token(&t, &jti, force).await?;
            println!("{slug}: token {jti} revoked");
        }
        Command::User(UserCmd::Seed {
            tenant: TenantArg { tenant: slug },
            count,
            password,
            cost,
            prefix,
            domain,
            first,
        }) => {
            let t = tenant(core, &slug).await?;
            let spec = SeedSpec {
                count,
                first,
                password: Password::new(
                    &password,
                    t.settings
                        .min_password_length(gatehouse_core::settings::DEFAULT_PASSWORD_MIN_LENGTH),
                )?,
                cost: cost.unwrap_or(t.settings.bcrypt_cost),
                prefix,
                domain,
            };
            let last = first + count.saturating_sub(1);
            let names = format!("{}..{}", spec.email(first)?, spec.email(last)?);
            let cost = spec.cost;
            let started = std::time::Instant::now();
            let interactive = std::io::stderr().is_terminal();
            let done = core
                .seed_users(&t, spec, |done| {
                    if interactive {
                        eprint!("\rseeded {done}/{count}");
                    }
                })
                .await?;
            if interactive {
                eprintln!();
            }
            println!(
                "seeded {done} users {names} at cost {cost} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Project(ProjectCmd::Create {
            tenant: TenantArg { tenant: slug },
            name,
            owner,
        }) => {
            let t = tenant(core, &slug).await?;
            let owner = core
                .user_by_email(&t, &Email::parse(&owner)?)
                .await?
                .ok_or(CoreError::NotFound("owner"))?;
            let project = core.create_project(&t, &name, &owner).await?;
            println!(
                "id={} jwtSecret={}",
                project.id,
                project.jwt_secret.expose()
            );
        }
    }
    Ok(())
}

async fn operator_key(core: &Core, cmd: OperatorKeyCmd) -> Result<(), CoreError> {
    match cmd {
        OperatorKeyCmd::Create { name } => {
            let (key, whole) = core.create_operator_key(&name).await?;
            eprintln!(
                "operator key '{}' (id {}) created; it is shown once, keep it now:",
                key.name, key.key_id
            );
            println!("{}", whole.expose());
        }
        OperatorKeyCmd::List => {
            for k in core.operator_keys().await? {
                let state = match k.revoked_at {
                    Some(at) => format!("revoked={}", millis_rfc3339(at)),
                    None => "active".to_owned(),
                };
                println!(
                    "{} id={} created={} {state}",
                    k.name,
                    k.key_id,
                    millis_rfc3339(k.created_at)
                );
            }
        }
        OperatorKeyCmd::Revoke { name } => {
            core.revoke_operator_key(&name).await?;
            println!("operator key '{}' revoked", name.trim());
        }
    }
    Ok(())
}

fn millis_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

fn tenant_line(t: &gatehouse_core::Tenant) -> String {
    let hosts = if t.hosts.is_empty() {
        "-".to_owned()
    } else {
        t.hosts.join(",")
    };
    let apis: Vec<&str> = t.apis.iter().map(|a| a.as_str()).collect();
    format!("{} hosts={} apis={}", t.slug, hosts, apis.join(","))
}
