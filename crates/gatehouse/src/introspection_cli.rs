//! `gatehouse introspection-client add|list|remove --tenant SLUG`: the resource servers that may
//! call a tenant's `POST /oauth/introspect` with HTTP Basic `client_id:client_secret` (the same
//! core calls as the operator API's `/admin/v1/tenants/{slug}/introspection-clients`).

use clap::Subcommand;
use gatehouse_core::{Core, CoreError};

#[derive(Debug, Subcommand)]
pub enum IntrospectionClientCmd {
    /// Register a client and print its client_id and client_secret once (only a hash is stored).
    Add {
        #[command(flatten)]
        tenant: crate::cli::TenantArg,
        /// What the list shows: 1 to 64 letters, digits and - _ . @, unique in the tenant.
        #[arg(long)]
        name: String,
    },
    /// One line a client: id, name, created.
    List {
        #[command(flatten)]
        tenant: crate::cli::TenantArg,
    },
    /// Remove the client with this id: its next introspection call gets 401, on every node.
    Remove {
        #[command(flatten)]
        tenant: crate::cli::TenantArg,
        id: String,
    },
}

pub async fn run(core: &Core, cmd: IntrospectionClientCmd) -> Result<(), CoreError> {
    match cmd {
        IntrospectionClientCmd::Add { tenant, name } => {
            let t = crate::cli::tenant(core, &tenant.tenant).await?;
            let (client, secret) = core.create_introspection_client(&t, &name).await?;
            eprintln!(
                "{}: introspection client '{}' created; its secret is shown once, keep it now:",
                t.slug, client.name
            );
            println!("client_id={} client_secret={}", client.id, secret.expose());
        }
        IntrospectionClientCmd::List { tenant } => {
            let t = crate::cli::tenant(core, &tenant.tenant).await?;
            for c in core.introspection_clients(&t).await? {
                let created = chrono::DateTime::from_timestamp_millis(c.created_at)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(|| c.created_at.to_string());
                println!("{} name={} created={created}", c.id, c.name);
            }
        }
        IntrospectionClientCmd::Remove { tenant, id } => {
            let t = crate::cli::tenant(core, &tenant.tenant).await?;
            let c = core.remove_introspection_client(&t, &id).await?;
            println!(
                "{}: introspection client {} ({}) removed",
                t.slug, c.id, c.name
            );
        }
    }
    Ok(())
}
