//! Start-up: connect and migrate, create the bootstrap tenants, keep the tenant directory fresh,
//! and serve both facades and the operations endpoints on one listener (metrics on another, the
//! operator API and console on a third).

use crate::body_deadline::BodyLimits;
use crate::client_limit::InFlight;
use crate::config::{BootstrapTenant, Config, HashingConfig};
use crate::forwarded::Trust;
use crate::gateway_error::gateway_error;
use crate::telemetry::HttpMetrics;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpRequest, HttpServer};
use gatehouse_core::master_key::{self, KeySources};
use gatehouse_core::reseal::Reseal;
use gatehouse_core::storage::{Db, DbUrl};
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::{
    Api, Core, CoreError, CoreOptions, HashingLimits, SharedClock, SystemClock, TenantSlug,
};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// Opens the database (waiting at most `connect_timeout_seconds`), applies pending migrations and
/// builds a `Core`. Used by every CLI command: they work as the login role of `database.url`.
/// Without `create`, a SQLite master key file that is not there is an error, not a new key (the
/// CLI checks the database file itself before).
pub async fn open_core(
    config: &Config,
    clock: SharedClock,
    registry: prometheus::Registry,
    create: bool,
) -> Result<Arc<Core>, CoreError> {
    open_core_as(config, clock, registry, None, create).await
}

/// `open_core`; then, given a role (what `serve` does with `database.app_role`), on PostgreSQL
/// the pool works as that role, bound by row-level security (docs/security.md).
async fn open_core_as(
    config: &Config,
    clock: SharedClock,
    registry: prometheus::Registry,
    app_role: Option<String>,
    create: bool,
) -> Result<Arc<Core>, CoreError> {
    let db_cfg = config.database.clone();
    let db = tokio::task::spawn_blocking(move || {
        Db::connect(
            &db_cfg.url,
            db_cfg.effective_pool_size(),
            Duration::from_secs(db_cfg.connect_timeout_seconds.max(1)),
        )
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))??;
    db.migrate().await?;
    // After migrating: the migrations make the role.
    let db = match app_role.filter(|role| !role.is_empty()) {
        Some(role) => tokio::task::spawn_blocking(move || db.working_as(&role))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??,
        None => db,
    };
    // After the database answers, so an unreachable database is reported as such first.
    let url = DbUrl::parse(&config.database.url)?;
    let mut keys = KeySources::from_env(config.secrets.master_key_file.clone());
    keys.existing_only = !create;
    let sealer = master_key::load(&keys, &url)?;
    let core = Core::new(
        db,
        CoreOptions {
            host_patterns: config.tenants.patterns.clone(),
            hashing: hashing_limits(&config.hashing)?,
            clock,
            registry,
            sealer,
            mail: config.mail.options(),
            outbound: config.outbound.options(),
        },
    )?;
    // Every sealed secret must open under the key given (else one clear error, not garbage
    // later), and plaintext rows from before sealing are sealed now.
    let resealed = core.reseal_secrets(Reseal::Plaintext).await?;
    if resealed.rewritten > 0 {
        log::info!(
            "sealed {} stored secrets under master key {}",
            resealed.rewritten,
            core.master_key_id()
        );
    }
    core.refresh_tenants().await?;
    Ok(Arc::new(core))
}

fn hashing_limits(h: &HashingConfig) -> Result<HashingLimits, CoreError> {
    if !(4..=31).contains(&h.max_cost) {
        return Err(CoreError::invalid(
            "hashing.max_cost",
            format!("must be from 4 to 31, not {}", h.max_cost),
        ));
    }
    if !(1_024..=4_194_304).contains(&h.max_argon2_memory_kib) {
        return Err(CoreError::invalid(
            "hashing.max_argon2_memory_kib",
            format!(
                "must be from 1024 to 4194304, not {}",
                h.max_argon2_memory_kib
            ),
        ));
    }
    if !(1..=100).contains(&h.max_argon2_iterations) {
        return Err(CoreError::invalid(
            "hashing.max_argon2_iterations",
            format!("must be from 1 to 100, not {}", h.max_argon2_iterations),
        ));
    }
    if !(0..=19).contains(&h.nice) {
        return Err(CoreError::invalid(
            "hashing.nice",
            format!("must be from 0 to 19, not {}", h.nice),
        ));
    }
    Ok(HashingLimits {
        nice: h.nice,
        threads: h.effective_threads(),
        tenant_share: h.tenant_share,
        queue_timeout: Duration::from_millis(h.queue_timeout_ms.max(1)),
        max_cost: h.max_cost,
        max_argon2_memory_kib: h.max_argon2_memory_kib,
        max_argon2_iterations: h.max_argon2_iterations,
    })
}

fn bootstrap_spec(b: &BootstrapTenant) -> Result<TenantSpec, CoreError> {
    let mut spec = TenantSpec::new(TenantSlug::parse(&b.slug)?);
    spec.name = b.name.clone();
    spec.hosts = b.hosts.clone();
    spec.apis = b
        .apis
        .iter()
        .map(|a| Api::parse(a))
        .collect::<Result<_, _>>()?;
    spec.settings = b.settings.clone();
    Ok(spec)
}

/// What every worker's `App` shares: the core and the gateway's own state. Cloning is cheap (each
/// part is reference-counted).
#[derive(Clone)]
pub struct AppParts {
    core: web::Data<Core>,
    metrics: web::Data<HttpMetrics>,
    in_flight: web::Data<InFlight>,
    trust: Trust,
    body_limits: BodyLimits,
    verify_metrics: web::Data<crate::wellknown::VerifyMetrics>,
    wellknown: web::Data<crate::wellknown::WellKnownOptions>,
}

impl AppParts {
    pub fn new(config: &Config, core: Arc<Core>, registry: prometheus::Registry) -> AppParts {
        AppParts {
            core: web::Data::from(core),
            in_flight: web::Data::from(InFlight::new(config.server.max_in_flight_per_ip)),
            trust: Trust {
                forwarded_host: config.server.trust_forwarded_host,
                forwarded_for: config.server.trust_forwarded_for,
                hops: config.server.trusted_hops.max(1),
            },
            body_limits: BodyLimits {
                timeout: Duration::from_secs(config.server.body_timeout_seconds.max(1)),
                max_bytes: config.server.max_body_bytes,
            },
            verify_metrics: web::Data::new(crate::wellknown::VerifyMetrics::new(&registry)),
            wellknown: web::Data::new(crate::wellknown::WellKnownOptions {
                max_age_secs: config.tenants.refresh_seconds.max(1),
            }),
            metrics: web::Data::new(HttpMetrics::new(registry)),
        }
    }
}

/// The whole gateway as one actix `App`: both facades, the dialect-neutral door and the
/// operations endpoints behind every middleware. `serve` runs it on each worker; the property
/// tests and fuzz targets drive it in-process (`actix_web::test::init_service`).
pub fn app(
    p: &AppParts,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // `wrap` nests outwards: the last one listed sees the request first.
    App::new()
        .app_data(p.core.clone())
        .app_data(p.metrics.clone())
        .app_data(p.in_flight.clone())
        .app_data(web::Data::new(p.trust))
        .app_data(web::Data::new(p.body_limits))
        .app_data(p.verify_metrics.clone())
        .app_data(p.wellknown.clone())
        .configure(crate::ops::configure)
        .configure(crate::wellknown::configure)
        .configure(|cfg| gatehouse_tiledesk::configure(cfg, crate::tenancy::gate))
        .configure(|cfg| gatehouse_appmixer::configure(cfg, crate::tenancy::gate))
        .default_service(web::to(no_route))
        .wrap(from_fn(crate::body_deadline::read_body_within_deadline))
        .wrap(from_fn(crate::client_limit::limit_in_flight_per_ip))
        .wrap(actix_web::middleware::Compat::new(crate::cors::cors(
            p.core.clone().into_inner(),
            p.trust,
        )))
        .wrap(from_fn(crate::cors::preflight_no_content))
        .wrap(from_fn(crate::tenancy::tiledesk_root))
        .wrap(from_fn(crate::tenancy::resolve_tenant))
        .wrap(from_fn(crate::head::serve_head_as_get))
        .wrap(from_fn(crate::telemetry::observe))
        // Outermost, so routes and every decision see one path (Express ignores a
        // trailing slash; `//` is merged).
        .wrap(crate::normalize::TrimPath)
}

/// `open_core`, then the bootstrap tenants and a loaded view: a core ready to serve. The change
/// feed and the refresher are the caller's (`Application` starts them; in-process tests need not).
pub async fn prepare_core(
    config: &Config,
    clock: SharedClock,
    registry: prometheus::Registry,
) -> Result<Arc<Core>, String> {
    let app_role = Some(config.database.app_role.clone());
    let core = open_core_as(config, clock, registry, app_role, true)
        .await
        .map_err(|e| e.to_string())?;
    for b in &config.tenants.bootstrap {
        let spec = bootstrap_spec(b).map_err(|e| format!("bootstrap tenant '{}': {e}", b.slug))?;
        core.ensure_tenant(spec)
            .await
            .map_err(|e| format!("bootstrap tenant '{}': {e}", b.slug))?;
    }
    // In the background: start-up never waits on a tenant's cost.
    core.prewarm_hashing();
    core.reload_view().await.map_err(|e| e.to_string())?;
    Ok(core)
}

pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(u16, Server)>,
    admin: Option<(u16, Server)>,
    core: Arc<Core>,
    listener: Option<gatehouse_core::view::listen::Listener>,
}

/// What no route matched: the unknown-tenant refusal when no tenant serves the host, else 404.
async fn no_route(req: HttpRequest) -> actix_web::HttpResponse {
    crate::tenancy::unknown_tenant(&req)
        .unwrap_or_else(|| gateway_error(StatusCode::NOT_FOUND, "not_found", "no such route"))
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, String> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: SharedClock,
    ) -> Result<Application, String> {
        let registry = prometheus::Registry::new();
        let core = prepare_core(&config, clock, registry.clone()).await?;
        let change_listener = gatehouse_core::view::listen::spawn(core.clone());
        spawn_refresher(core.clone(), config.tenants.refresh_seconds);
        spawn_audit_pruner(core.clone());
        spawn_heap_trimmer(&registry, config.server.heap_trim_seconds);
        gatehouse_core::mail::sender::spawn(&core);

        let listener = TcpListener::bind(&config.server.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", config.server.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let parts = AppParts::new(&config, core.clone(), registry);
        let metrics_server = crate::metrics_listener::bind(
            &config.server.metrics_bind,
            parts.metrics.clone(),
            config.server.shutdown_timeout_seconds,
        )?;
        let admin_server = crate::admin_listener::bind(
            &config.server.admin_bind,
            core.clone(),
            gatehouse_operator::OperatorOptions {
                key_lead_secs: config.tenants.refresh_seconds.max(1) * 2,
            },
            config.server.shutdown_timeout_seconds,
        )?;
        let mut server = HttpServer::new(move || app(&parts))
            .shutdown_timeout(config.server.shutdown_timeout_seconds)
            .max_connections(config.server.max_connections_per_worker.max(1))
            // Each worker's blocking pool runs database calls, bounded by the connection pool;
            // more threads would only wait. Hashes have their own threads (`[hashing]`).
            .worker_max_blocking_threads(config.database.effective_pool_size() as usize)
            .listen(listener)
            .map_err(|e| e.to_string())?;
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            metrics: metrics_server,
            admin: admin_server,
            core,
            listener: change_listener,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port, when it is on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The admin listener's port (operator API and console), when it is on.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(port, _)| *port)
    }

    pub fn core(&self) -> Arc<Core> {
        self.core.clone()
    }

    /// A handle to stop the server (tests stop theirs when they end).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT, then stops accepting and lets in-flight requests finish.
    /// The metrics and admin listeners stop with it; then the background work that holds
    /// database connections on threads of its own (the change listener, the audit writer, after
    /// writing what it holds) ends, so that none is in the middle of a call when the process exits.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let side: Vec<_> = [self.metrics, self.admin]
            .into_iter()
            .flatten()
            .map(|(_, server)| {
                let handle = server.handle();
                tokio::spawn(server);
                handle
            })
            .collect();
        let served = self.server.await;
        for handle in side {
            handle.stop(true).await;
        }
        if let Some(listener) = self.listener {
            let _ = tokio::task::spawn_blocking(move || listener.stop()).await;
        }
        if let Err(e) = self.core.stop_audit().await {
            log::warn!("audit events of the last requests may be lost: {e}");
        }
        served
    }
}

/// Every `refresh_seconds`: reads the change feed (how changes made on other nodes or by the CLI
/// reach this node's view on SQLite, and the fallback to NOTIFY on PostgreSQL), and reloads the
/// tenant directory (the fallback for tenants). A failed reload keeps the last good directory.
fn spawn_refresher(core: Arc<Core>, refresh_seconds: u64) {
    let period = Duration::from_secs(refresh_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = core.sync_changes().await {
                log::warn!("reading the change feed failed, trying again next time: {e}");
            }
            if let Err(e) = core.refresh_tenants().await {
                log::warn!("tenant refresh failed, keeping the last directory: {e}");
            }
            // A hash policy changed on another node (SQLite polls): its dummy, made ahead.
            core.prewarm_hashing();
        }
    });
}

/// Every `seconds` (0: never): gives the heap's free pages back to the system and records the
/// heap's figures (see gatehouse_core::heap), on a blocking thread.
fn spawn_heap_trimmer(registry: &prometheus::Registry, seconds: u64) {
    if seconds == 0 {
        return;
    }
    let heap = gatehouse_core::heap::HeapMetrics::new(registry);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(seconds));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let heap = heap.clone();
            if tokio::task::spawn_blocking(move || heap.trim_and_record())
                .await
                .is_err()
            {
                log::warn!("trimming the heap failed");
            }
        }
    });
}

/// Hourly (and once at start): deletes audit events older than each tenant's
/// `AUDIT_RETENTION_DAYS`. Every node does it; a delete that finds nothing costs one query.
fn spawn_audit_pruner(core: Arc<Core>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match core.prune_audit().await {
                Ok(0) => {}
                Ok(n) => log::info!("pruned {n} audit events past their tenant's retention"),
                Err(e) => log::warn!("pruning the audit log failed, trying again later: {e}"),
            }
        }
    });
}
