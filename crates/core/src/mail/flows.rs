//! The mail flows as core offers them to the facades: asking for a password reset, checking and
//! using a reset code, sending and following a verification mail, and the operator's reset link.

use super::codes::{self, NewCode, Purpose};
use super::outbox::{self, OutboxMessage};
use super::templates::{self, MailVars};
use crate::error::{CoreError, CoreResult};
use crate::ratelimit::{Subject, HOUR_MS};
use crate::service::Core;
use crate::storage::db::write_transaction;
use crate::storage::schema::users;
use crate::tenants::Tenant;
use crate::users::User;
use crate::validated::{Email, Password};
use diesel::prelude::*;
use std::net::IpAddr;
use std::sync::Arc;

/// The `Forbidden` reason when the tenant has no `SMTP_URL`; each facade words it its own way.
pub const MAIL_NOT_CONFIGURED: &str = "mail is not configured for this tenant";
/// How long a verification code lives: tiledesk-server sets `emailverify:verify-<code>` with
/// `{ EX: 900}` (routes/auth.js line 116, routes/users.js line 183).
pub const VERIFY_CODE_TTL_SECONDS: i64 = 900;
/// The `Forbidden` reason for a verification code that belongs to another user.
pub const VERIFY_OTHER_USER: &str = "the verification code belongs to another user";

/// The links a facade's mails carry when the tenant sets no `RESET_URL` / `VERIFY_URL`: templates
/// with `{base}` (the tenant's issuer), `{code}` and `{uid}`, matching that dialect's front end.
#[derive(Debug, Clone, Copy)]
pub struct Links {
    pub reset: &'static str,
    pub verify: &'static str,
}

fn link(tenant: &Tenant, purpose: Purpose, links: Links, code: &str, uid: &str) -> String {
    let template = match purpose {
        Purpose::Reset => tenant.settings.reset_url.as_deref().unwrap_or(links.reset),
        Purpose::Verify => tenant
            .settings
            .verify_url
            .as_deref()
            .unwrap_or(links.verify),
    };
    template
        .replace("{base}", &tenant.issuer())
        .replace("{uid}", uid)
        .replace("{code}", code)
}

/// `MAIL_FROM`, else `no-reply@` the host of the tenant's issuer.
fn from_of(tenant: &Tenant) -> String {
    if let Some(from) = &tenant.settings.mail_from {
        return from.clone();
    }
    let issuer = tenant.issuer();
    let host = url::Url::parse(&issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let candidate = format!("no-reply@{host}");
    match candidate.parse::<lettre::Address>() {
        Ok(_) => candidate,
        Err(_) => "no-reply@localhost".to_owned(),
    }
}

impl Core {
    fn require_mail(&self, tenant: &Tenant) -> CoreResult<()> {
        match tenant.settings.smtp_url {
            Some(_) => Ok(()),
            None => Err(CoreError::Forbidden(MAIL_NOT_CONFIGURED)),
        }
    }

    /// Counts a mail-sending request against `MAIL_PER_IP_PER_HOUR` and `MAIL_PER_EMAIL_PER_HOUR`;
    /// `RateLimited` past either. Known and unknown addresses are counted alike.
    fn check_mail_rate(&self, tenant: &Tenant, ip: IpAddr, email: &Email) -> CoreResult<()> {
        let now = self.now_ms();
        let s = &tenant.settings;
        let ip_ok = self.limiter.allow_subject(
            &tenant.id,
            Subject::MailFromIp(ip),
            s.mail_per_ip_per_hour,
            HOUR_MS,
            now,
        );
        let email_ok = ip_ok
            && self.limiter.allow_subject(
                &tenant.id,
                Subject::MailToEmail(email.as_str().to_owned()),
                s.mail_per_email_per_hour,
                HOUR_MS,
                now,
            );
        if email_ok {
            Ok(())
        } else {
            Err(CoreError::RateLimited)
        }
    }

    /// A reset asked for `email` from `ip`. Answers the same, at once, whether or not the account
    /// exists: after the checks that do not depend on the account (mail configured, limits), the
    /// lookup and the write of code and mail run detached from the request.
    pub async fn request_password_reset(
        self: Arc<Self>,
        tenant: Arc<Tenant>,
        ip: IpAddr,
        email: Email,
        links: Links,
    ) -> CoreResult<()> {
        self.require_mail(&tenant)?;
        self.check_mail_rate(&tenant, ip, &email)?;
        tokio::spawn(async move {
            let found = match self.user_by_email(&tenant, &email).await {
                Ok(found) => found,
                Err(e) => {
                    log::warn!("password reset lookup failed: {e}");
                    return;
                }
            };
            let Some(user) = found.filter(|u| !u.disabled) else {
                return;
            };
            if let Err(e) = self
                .queue_code_mail(&tenant, &user, Purpose::Reset, links)
                .await
            {
                log::warn!("password reset for user {} not queued: {e}", user.id);
            }
        });
        Ok(())
    }

    /// Writes a fresh code and its mail to the outbox, in one transaction.
    async fn queue_code_mail(
        &self,
        tenant: &Tenant,
        user: &User,
        purpose: Purpose,
        links: Links,
    ) -> CoreResult<()> {
        let to = user.email.clone().ok_or(CoreError::NotFound("user"))?;
        let code = codes::generate();
        let link = link(tenant, purpose, links, &code, &user.id);
        let ttl = match purpose {
            Purpose::Reset => tenant.settings.reset_code_ttl_seconds,
            Purpose::Verify => VERIFY_CODE_TTL_SECONDS,
        };
        let rendered = templates::render(
            purpose,
            &tenant.stored_settings,
            &MailVars {
                tenant: &tenant.name,
                email: &to,
                firstname: &user.firstname,
                lastname: &user.lastname,
                link: &link,
                code: &code,
                ttl_minutes: ttl / 60,
            },
        )?;
        let message = OutboxMessage {
            from: from_of(tenant),
            to: to.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        };
        let (tid, uid, now, sealer) = (
            tenant.id.clone(),
            user.id.clone(),
            self.now_ms(),
            self.sealer.clone(),
        );
        self.db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let new = NewCode {
                        tenant_id: &tid,
                        user_id: &uid,
                        email: &to,
                        purpose,
                        code: &code,
                    };
                    codes::store(c, &new, now, ttl)?;
                    outbox::enqueue(c, &sealer, &tid, &message, now)
                })
            })
            .await?;
        self.mail.metrics.event("queued");
        Ok(())
    }

    /// The user a live reset code belongs to (`NotFound("code")` otherwise); the code stays live.
    pub async fn check_reset_code(&self, tenant: &Tenant, code: &str) -> CoreResult<User> {
        let (tid, code, now) = (tenant.id.clone(), code.to_owned(), self.now_ms());
        self.db
            .run_tenant(&tenant.id, move |c| {
                let row = codes::find(c, &tid, Purpose::Reset, &code, now)?;
                crate::users::load_state(c, &tid, &row.user_id)?
                    .map(|s| s.user)
                    .ok_or(CoreError::NotFound("code"))
            })
            .await
    }

    /// Sets a new password with a reset code: the code (and the user's other reset codes) end, the
    /// user's earlier tokens end, and the account's sign-in locks are cleared.
    pub async fn reset_password_with_code(
        &self,
        tenant: &Tenant,
        code: &str,
        new: &Password,
    ) -> CoreResult<User> {
        // Checked before hashing, so a wrong code costs no bcrypt.
        self.check_reset_code(tenant, code).await?;
        let hash = self
            .hasher
            .hash(&tenant.id, new, tenant.settings.hash_policy())
            .await?;
        let (tid, code, now) = (tenant.id.clone(), code.to_owned(), self.now_ms());
        let (user, change) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let row = codes::consume(c, &tid, Purpose::Reset, &code, now)?;
                    codes::end_all(c, &tid, &row.user_id, Purpose::Reset)?;
                    let change = crate::users::store_password(c, &tid, &row.user_id, hash, now)?;
                    let user = crate::users::load_state(c, &tid, &row.user_id)?
                        .map(|s| s.user)
                        .ok_or(CoreError::NotFound("code"))?;
                    Ok((user, change))
                })
            })
            .await?;
        self.publish(&[change]).await?;
        let record = crate::audit::Record::success(crate::audit::kind::PASSWORD_RESET)
            .user(user.id.clone())
            .detail("reset code");
        self.audit(tenant, record);
        Ok(user)
    }

    /// Sends a verification mail to the user's address. With `ip` (a request the person made,
    /// such as "resend"), the mail limits apply and a tenant without mail is an error; without
    /// (signup), a tenant without mail simply sends none.
    pub async fn send_verification(
        &self,
        tenant: &Tenant,
        user: &User,
        ip: Option<IpAddr>,
        links: Links,
    ) -> CoreResult<()> {
        let Some(email) = user.email.as_deref() else {
            return Err(CoreError::invalid(
                "email",
                "the account has no email address",
            ));
        };
        match ip {
            Some(ip) => {
                self.require_mail(tenant)?;
                self.check_mail_rate(tenant, ip, &Email::parse(email)?)?;
            }
            None if tenant.settings.smtp_url.is_none() => return Ok(()),
            None => {}
        }
        self.queue_code_mail(tenant, user, Purpose::Verify, links)
            .await
    }

    /// Follows a verification mail: the code must be live, for user `uid` and its current email;
    /// the account's email is then verified (again, on a second click: the code stays live). `NotFound("code")` or `Forbidden(VERIFY_OTHER_USER)`.
    pub async fn verify_email(&self, tenant: &Tenant, uid: &str, code: &str) -> CoreResult<User> {
        let (tid, uid, code, now) = (
            tenant.id.clone(),
            uid.to_owned(),
            code.to_owned(),
            self.now_ms(),
        );
        let (user, change) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let row = codes::find(c, &tid, Purpose::Verify, &code, now)?;
                    if row.user_id != uid {
                        return Err(CoreError::Forbidden(VERIFY_OTHER_USER));
                    }
                    // Not used up: the original never deletes the key (auth.js line 887-900), so
                    // a second click (a reload of the verify page) verifies again until it expires.
                    // Only while the account still has the address the mail went to.
                    let n = diesel::update(
                        users::table
                            .filter(users::tenant_id.eq(&tid))
                            .filter(users::id.eq(&uid))
                            .filter(users::email.eq(&row.email)),
                    )
                    .set((users::email_verified.eq(true), users::updated_at.eq(now)))
                    .execute(c)?;
                    if n != 1 {
                        return Err(CoreError::NotFound("code"));
                    }
                    let change = crate::revocation::user_changed(c, &tid, &uid, now)?;
                    let user = crate::users::load_state(c, &tid, &uid)?
                        .map(|s| s.user)
                        .ok_or(CoreError::NotFound("user"))?;
                    Ok((user, change))
                })
            })
            .await?;
        self.publish(&[change]).await?;
        Ok(user)
    }

    /// For an operator (`gatehouse user reset-link`): a live reset code for the account of `email`
    /// and the link that carries it. Nothing is mailed. `NotFound("user")` for no such account.
    pub async fn reset_link(
        &self,
        tenant: &Tenant,
        email: &Email,
        links: Links,
    ) -> CoreResult<(String, String)> {
        let user = self
            .user_by_email(tenant, email)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        let code = codes::generate();
        let url = link(tenant, Purpose::Reset, links, &code, &user.id);
        let (tid, uid, to, now) = (
            tenant.id.clone(),
            user.id.clone(),
            email.as_str().to_owned(),
            self.now_ms(),
        );
        let ttl = tenant.settings.reset_code_ttl_seconds;
        let stored = code.clone();
        self.db
            .run_tenant(&tenant.id, move |c| {
                let new = NewCode {
                    tenant_id: &tid,
                    user_id: &uid,
                    email: &to,
                    purpose: Purpose::Reset,
                    code: &stored,
                };
                write_transaction(c, |c| codes::store(c, &new, now, ttl))
            })
            .await?;
        Ok((code, url))
    }
}
