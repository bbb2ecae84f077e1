//! An account made by an operator (the CLI's `user create`, the operator API's `POST .../users`):
//! the tenant's first admin usually comes from here. Active at once, with the scopes asked for.

use crate::error::{CoreError, CoreResult};
use crate::service::Core;
use crate::settings::DEFAULT_PASSWORD_MIN_LENGTH;
use crate::tenants::Tenant;
use crate::users::{NewUser, User};
use crate::validated::{Email, Password, Scope, Username};
use diesel::prelude::*;
use std::collections::HashMap;

/// What an operator gives for a new account, as typed; checked by `Core::operator_create_user`.
#[derive(Debug, Clone)]
pub struct OperatorNewUser {
    pub email: String,
    pub password: crate::secret::Secret<String>,
    pub username: Option<String>,
    /// Besides `user`, e.g. `admin`.
    pub scopes: Vec<String>,
    pub firstname: String,
    pub lastname: String,
}

impl Core {
    /// Creates an active account with a password (at the tenant's minimum length) and scopes.
    pub async fn operator_create_user(
        &self,
        tenant: &Tenant,
        input: OperatorNewUser,
    ) -> CoreResult<User> {
        let password = Password::new(
            input.password.expose(),
            tenant
                .settings
                .min_password_length(DEFAULT_PASSWORD_MIN_LENGTH),
        )?;
        let mut new = NewUser::new(Email::parse(&input.email)?, Some(password));
        new.username = input.username.as_deref().map(Username::parse).transpose()?;
        for s in &input.scopes {
            let scope = Scope::parse(s)?;
            if !new.scopes.contains(&scope) {
                new.scopes.push(scope);
            }
        }
        new.firstname = input.firstname;
        new.lastname = input.lastname;
        new.is_active = true;
        self.create_user(tenant, new).await.map_err(|e| match e {
            CoreError::Conflict(_) => {
                CoreError::Conflict("a user with this email or username already exists")
            }
            other => other,
        })
    }

    /// The email of each of `ids` that is a user of the tenant with an email (the console's audit
    /// page names people, not ids), in one query. Ids of deleted users are simply absent.
    pub async fn user_emails(
        &self,
        tenant: &Tenant,
        ids: Vec<String>,
    ) -> CoreResult<HashMap<String, String>> {
        use crate::storage::schema::users;
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let tid = tenant.id.clone();
        self.db
            .run_tenant(&tenant.id, move |c| {
                let rows: Vec<(String, Option<String>)> = users::table
                    .filter(users::tenant_id.eq(&tid))
                    .filter(users::id.eq_any(&ids))
                    .select((users::id, users::email))
                    .load(c)?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(id, email)| email.map(|e| (id, e)))
                    .collect())
            })
            .await
    }
}
