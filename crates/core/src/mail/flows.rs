//! The mail flows as core offers them to the facades: asking for a password reset, checking and
//! using a reset code, sending and following a verification mail, and the operator's reset link.

use super::codes::{self, NewCode, Purpose};
use super::limits::{self, Limits, Verdict};
use super::outbox::{self, OutboxMessage};
use super::templates::{self, MailVars};
use crate::error::{CoreError, CoreResult};
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
/// The `Forbidden` reason for a verification code that belongs to another user.
pub const VERIFY_OTHER_USER: &str = "the verification code belongs to another user";

/// Why a verification mail is sent (see `Core::send_verification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationMail {
    /// The account was just made; the signup succeeds whether or not a mail goes.
    Signup,
    /// The person asked for another mail.
    Resend,
}

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

/// The code's user, unless gone or disabled: both answer as a dead code does, so a code tells
/// nothing more about the account than it did (issue 21.7).
fn live_user(c: &mut crate::storage::AnyConnection, tid: &str, uid: &str) -> CoreResult<User> {
    crate::users::load_state(c, tid, uid)?
        .map(|s| s.user)
        .filter(|u| !u.disabled)
        .ok_or(CoreError::NotFound("code"))
}

impl Core {
    fn require_mail(&self, tenant: &Tenant) -> CoreResult<()> {
        match tenant.settings.smtp_url {
            Some(_) => Ok(()),
            None => Err(CoreError::Forbidden(MAIL_NOT_CONFIGURED)),
        }
    }

    /// Counts a mail-sending request against `MAIL_PER_IP_PER_HOUR` and `MAIL_PER_EMAIL_PER_HOUR`
    /// in the database (see `limits`: they hold across nodes); `RateLimited` past either. Known
    /// and unknown addresses are counted alike, so the answer tells them apart no more than the
    /// reset's does.
    async fn check_mail_rate(&self, tenant: &Tenant, ip: IpAddr, email: &str) -> CoreResult<()> {
        let s = &tenant.settings;
        let limits = Limits {
            per_email: s.mail_per_email_per_hour,
            per_ip: s.mail_per_ip_per_hour,
        };
        if limits.per_email == 0 && limits.per_ip == 0 {
            return Ok(());
        }
        let tid = tenant.id.clone();
        let (email_key, ip_key) = (limits::email_key(&tid, email), limits::ip_key(&tid, ip));
        let now = self.now_ms();
        let verdict = self
            .db
            .run_tenant(&tenant.id, move |c| {
                limits::count(c, &tid, &email_key, &ip_key, limits, now)
            })
            .await?;
        match verdict {
            Verdict::Allowed => Ok(()),
            Verdict::OverIp | Verdict::OverEmail => {
                self.mail.metrics.event("limited");
                Err(CoreError::RateLimited)
            }
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
        self.check_mail_rate(&tenant, ip, email.as_str()).await?;
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
        let ttl = tenant.settings.reset_code_ttl_seconds;
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

    /// The user a live reset code belongs to (`NotFound("code")` otherwise, and for a disabled
    /// user: the same answer as a dead code); the code stays live. Each miss counts against `ip`
    /// (see `lockout::guard_code_guesses`): `RateLimited` past the limit.
    pub async fn check_reset_code(
        &self,
        tenant: &Tenant,
        ip: IpAddr,
        code: &str,
    ) -> CoreResult<User> {
        let (tid, code, now) = (tenant.id.clone(), code.to_owned(), self.now_ms());
        let lookup = self.db.run_tenant(&tenant.id, move |c| {
            let row = codes::find(c, &tid, Purpose::Reset, &code, now)?;
            live_user(c, &tid, &row.user_id)
        });
        self.guard_code_guesses(tenant, ip, lookup).await
    }

    /// Sets a new password with a reset code: the code (and the user's other reset codes) end, the
    /// user's earlier tokens end, and the account's sign-in locks are cleared.
    pub async fn reset_password_with_code(
        &self,
        tenant: &Tenant,
        ip: IpAddr,
        code: &str,
        new: &Password,
    ) -> CoreResult<User> {
        // Checked before hashing, so a wrong code costs no bcrypt.
        self.check_reset_code(tenant, ip, code).await?;
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
                    // Again in the transaction: the user may have been disabled since the check.
                    live_user(c, &tid, &row.user_id)?;
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

    /// Sends a verification mail to the user's address, asked from `ip`. Every such mail counts
    /// against the mail limits. On `Resend` (a request the person made) a tenant without mail is
    /// an error and the limits answer `RateLimited`; at `Signup` the account exists whatever
    /// happens here, so a tenant without mail, or a mail past the limits, simply sends none.
    pub async fn send_verification(
        &self,
        tenant: &Tenant,
        user: &User,
        ip: IpAddr,
        why: VerificationMail,
        links: Links,
    ) -> CoreResult<()> {
        let Some(email) = user.email.as_deref() else {
            return Err(CoreError::invalid(
                "email",
                "the account has no email address",
            ));
        };
        match why {
            VerificationMail::Resend => {
                self.require_mail(tenant)?;
                self.check_mail_rate(tenant, ip, email).await?;
            }
            VerificationMail::Signup if tenant.settings.smtp_url.is_none() => return Ok(()),
            VerificationMail::Signup => match self.check_mail_rate(tenant, ip, email).await {
                Ok(()) => {}
                Err(CoreError::RateLimited) => {
                    log::info!(
                        "no verification mail for new user {}: past the tenant's mail limits",
                        user.id
                    );
                    return Ok(());
                }
                Err(e) => return Err(e),
            },
        }
        self.queue_code_mail(tenant, user, Purpose::Verify, links)
            .await
    }

    /// Follows a verification mail: the code must be live, for user `uid` and its current email;
    /// the account's email is then verified. `NotFound("code")` or `Forbidden(VERIFY_OTHER_USER)`.
    pub async fn verify_email(
        &self,
        tenant: &Tenant,
        ip: IpAddr,
        uid: &str,
        code: &str,
    ) -> CoreResult<User> {
        let (tid, uid, code, now) = (
            tenant.id.clone(),
            uid.to_owned(),
            code.to_owned(),
            self.now_ms(),
        );
        let verified = self.db.run_tenant(&tenant.id, move |c| {
            write_transaction(c, |c| {
                let row = codes::find(c, &tid, Purpose::Verify, &code, now)?;
                if row.user_id != uid {
                    return Err(CoreError::Forbidden(VERIFY_OTHER_USER));
                }
                // A disabled user's code is as dead as any other (disabling ends them anyway).
                live_user(c, &tid, &uid)?;
                codes::consume(c, &tid, Purpose::Verify, &code, now)?;
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
        });
        let (user, change) = self.guard_code_guesses(tenant, ip, verified).await?;
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
