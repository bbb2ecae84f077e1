//! Start-up: connect and migrate, create the bootstrap tenants, keep the tenant directory fresh,
//! and serve both facades and the operations endpoints on one listener.

use crate::config::{BootstrapTenant, Config};
use crate::gateway_error::gateway_error;
use crate::telemetry::HttpMetrics;
use crate::tenancy::Trust;
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use gatehouse_core::storage::Db;
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::{Api, Core, CoreError, CoreOptions, SharedClock, SystemClock, TenantSlug};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// Opens the database (waiting at most `connect_timeout_seconds`), applies pending migrations and
/// builds a `Core`. Used by `serve` and by every CLI command.
pub async fn open_core(
    config: &Config,
    clock: SharedClock,
    registry: prometheus::Registry,
) -> Result<Arc<Core>, CoreError> {
    let db_cfg = config.database.clone();
    let db = tokio::task::spawn_blocking(move || {
        Db::connect(
            &db_cfg.url,
            db_cfg.pool_size,
            Duration::from_secs(db_cfg.connect_timeout_seconds.max(1)),
        )
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))??;
    db.migrate().await?;
    let hash_threads = match config.hashing.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let core = Core::new(
        db,
        CoreOptions {
            host_patterns: config.tenants.patterns.clone(),
            hash_threads,
            clock,
            registry,
        },
    )?;
    core.refresh_tenants().await?;
    Ok(Arc::new(core))
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

pub struct Application {
    port: u16,
    server: Server,
    core: Arc<Core>,
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
        let core = open_core(&config, clock, registry.clone())
            .await
            .map_err(|e| e.to_string())?;
        for b in &config.tenants.bootstrap {
            let spec =
                bootstrap_spec(b).map_err(|e| format!("bootstrap tenant '{}': {e}", b.slug))?;
            core.ensure_tenant(spec)
                .await
                .map_err(|e| format!("bootstrap tenant '{}': {e}", b.slug))?;
        }
        core.prewarm_hashing().await.map_err(|e| e.to_string())?;
        spawn_refresher(core.clone(), config.tenants.refresh_seconds);

        let listener = TcpListener::bind(&config.server.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", config.server.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let trust = Trust {
            forwarded_host: config.server.trust_forwarded_host,
            forwarded_for: config.server.trust_forwarded_for,
        };
        let core_data = web::Data::from(core.clone());
        let metrics = web::Data::new(HttpMetrics::new(registry));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(core_data.clone())
                .app_data(metrics.clone())
                .app_data(web::Data::new(trust))
                .configure(crate::ops::configure)
                .configure(gatehouse_tiledesk::configure)
                .configure(gatehouse_appmixer::configure)
                .default_service(web::to(|| async {
                    gateway_error(StatusCode::NOT_FOUND, "not_found", "no such route")
                }))
                .wrap(from_fn(crate::tenancy::resolve_tenant))
                .wrap(from_fn(crate::telemetry::observe))
        })
        .shutdown_timeout(config.server.shutdown_timeout_seconds)
        .listen(listener)
        .map_err(|e| e.to_string())?;
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            core,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn core(&self) -> Arc<Core> {
        self.core.clone()
    }

    /// A handle to stop the server (tests stop theirs when they end).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT, then stops accepting and lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Reloads the tenant directory every `refresh_seconds`, so changes made on other nodes (or by the
/// CLI) are served without a restart. A failed reload keeps the last good directory.
fn spawn_refresher(core: Arc<Core>, refresh_seconds: u64) {
    let period = Duration::from_secs(refresh_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = core.refresh_tenants().await {
                log::warn!("tenant refresh failed, keeping the last directory: {e}");
            }
        }
    });
}
