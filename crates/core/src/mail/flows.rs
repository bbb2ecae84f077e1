//! The mail flows as core offers them to the facades: asking for a password reset, checking and
//! using a reset code, sending and following a verification mail, and the operator's reset link.

use super::codes::{self, NewCode, Purpose};
use super::limits::{self, Limits, Verdict};
use super::outbox::{self, OutboxMessage};
use super::templates::{self, MailVars, RenderError};
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
/// How long a verification code lives: tiledesk-server sets `emailverify:verify-<code>` with
/// `{ EX: 900}` (routes/auth.js line 116, routes/users.js line 183).
pub const VERIFY_CODE_TTL_SECONDS: i64 = 900;
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

/// `MAIL_FROM`, else `no-reply@` the tenant's first host that is a name, not an IP address;
/// `None` when it has neither. Mail from an address at an IP literal is refused or binned by
/// most receivers, so the sender then refuses the mail and names `MAIL_FROM` (see `sender`).
pub(crate) fn from_of(tenant: &Tenant) -> Option<String> {
    if let Some(from) = &tenant.settings.mail_from {
        return Some(from.clone());
    }
    tenant
        .hosts
        .iter()
        .filter(|h| !is_ip_literal(h))
        .map(|h| format!("no-reply@{h}"))
        .find(|candidate| candidate.parse::<lettre::Address>().is_ok())
}

/// True for a host that is an IP address (`127.0.0.1`, `[::1]`, `::1`).
pub(crate) fn is_ip_literal(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.parse::<IpAddr>().is_ok()
}

/// The names a template sees for `user`. Mail to an address nobody has shown to hold yet (a
/// verification, a reset of an unverified account) carries no text the person who signed up
/// chose: anyone can sign up with a victim's address and a "name" that is a phishing line.
fn names_for_mail(user: &User, purpose: Purpose) -> (String, String) {
    if purpose == Purpose::Verify || !user.email_verified {
        (String::new(), String::new())
    } else {
        (user.firstname.clone(), user.lastname.clone())
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
        let ttl = match purpose {
            Purpose::Reset => tenant.settings.reset_code_ttl_seconds,
            Purpose::Verify => VERIFY_CODE_TTL_SECONDS,
        };
        let (firstname, lastname) = names_for_mail(user, purpose);
        let vars = MailVars {
            tenant: tenant.name.clone(),
            email: to.clone(),
            firstname,
            lastname,
            link,
            code: code.clone(),
            ttl_minutes: ttl / 60,
        };
        // A tenant's template runs up to `templates::FUEL` instructions per part: on the blocking
        // pool, so that the async workers, which answer every tenant, never wait on one. (Not in
        // the sender: a template that fails is known here, before a code is stored.)
        let overrides: std::collections::BTreeMap<String, String> = tenant
            .stored_settings
            .iter()
            .filter(|(k, _)| templates::TEMPLATE_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let rendered =
            tokio::task::spawn_blocking(move || templates::render(purpose, &overrides, &vars))
                .await
                .map_err(|e| CoreError::Internal(format!("mail render task: {e}")))?;
        let rendered = match rendered {
            Ok(rendered) => rendered,
            Err(RenderError::Internal(e)) => return Err(e),
            Err(RenderError::Budget { key, reason }) => {
                // Given up: no code, no mail, on record for the tenant and the operator.
                self.mail.metrics.event("dead");
                log::warn!(
                    "mail to user {} of tenant {} not sent: {key} {reason}",
                    user.id,
                    tenant.slug.as_str()
                );
                let record = crate::audit::Record::new(
                    crate::audit::kind::MAIL_DEAD,
                    crate::audit::Outcome::Failure,
                )
                .user(user.id.clone())
                .detail(format!(
                    "{} mail not sent: {key} {reason}",
                    purpose.as_str()
                ));
                self.audit(tenant, record);
                return Ok(());
            }
        };
        let from = from_of(tenant).unwrap_or_default();
        let message = OutboxMessage {
            from,
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
    /// the account's email is then verified (again, on a second click: the code stays live).
    /// `NotFound("code")` or `Forbidden(VERIFY_OTHER_USER)`.
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
                // Not used up: the original never deletes the key (auth.js line 887-900), so a
                // second click (a reload of the verify page) verifies again until it expires.
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
