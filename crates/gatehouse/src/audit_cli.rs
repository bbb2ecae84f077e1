//! `gatehouse audit --tenant SLUG [--since DURATION] [--user EMAIL] [--kind K] [--json]`: a
//! tenant's audit log, newest first, one line (or one JSON object) an event.

use clap::Args;
use gatehouse_core::audit::{parse_since, AuditEvent, AuditQuery, AUDIT_QUERY_MAX};
use gatehouse_core::{Core, CoreError, Email, TenantSlug};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long)]
    pub tenant: String,
    /// Only events since then: a duration back from now (90s, 15m, 24h, 7d, 2w) or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only this account's events: its email, or its id (a deleted account's events).
    #[arg(long)]
    pub user: Option<String>,
    /// Only events of this kind (signin, signup, lockout, password_change, logout...).
    #[arg(long)]
    pub kind: Option<String>,
    /// At most this many events (newest first).
    #[arg(long, default_value_t = 1000)]
    pub limit: i64,
    /// One JSON object a line instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(core: &Core, args: AuditArgs) -> Result<(), CoreError> {
    let tenant = core
        .require_tenant(&TenantSlug::parse(&args.tenant)?)
        .await?;
    if !(1..=AUDIT_QUERY_MAX).contains(&args.limit) {
        return Err(CoreError::invalid(
            "limit",
            format!("must be from 1 to {AUDIT_QUERY_MAX}"),
        ));
    }
    let since_ms = args
        .since
        .as_deref()
        .map(|s| parse_since(s, core.now_ms()))
        .transpose()?;
    let user_id = match args.user.as_deref() {
        Some(u) if u.contains('@') => Some(
            core.user_by_email(&tenant, &Email::parse(u)?)
                .await?
                .ok_or(CoreError::NotFound("user"))?
                .id,
        ),
        other => other.map(str::to_owned),
    };
    let query = AuditQuery {
        since_ms,
        user_id,
        kind: args.kind,
        limit: args.limit,
    };
    for event in core.audit_events(&tenant, query).await? {
        if args.json {
            let line = serde_json::to_string(&event)
                .map_err(|e| CoreError::Internal(format!("audit event as JSON: {e}")))?;
            println!("{line}");
        } else {
            println!("{}", text_line(&event));
        }
    }
    Ok(())
}

fn text_line(e: &AuditEvent) -> String {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut line = format!(
        "{} {} {} user={} ip={} dialect={} request={}",
        gatehouse_core::clock::iso8601(e.at),
        e.kind,
        e.outcome,
        or_dash(&e.user_id),
        or_dash(&e.client_ip),
        e.dialect,
        or_dash(&e.request_id),
    );
    if let Some(agent) = &e.user_agent {
        line.push_str(&format!(" agent={agent:?}"));
    }
    if let Some(detail) = &e.detail {
        line.push_str(&format!(" detail={detail:?}"));
    }
    line
}
