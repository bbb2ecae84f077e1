//! The mails' subjects and bodies: minijinja templates, text and HTML, with defaults in the repo
//! (`mail/templates/`). A tenant may replace any of them with a free-form configuration key
//! (`MAIL_RESET_SUBJECT`, `MAIL_RESET_TEXT`, `MAIL_RESET_HTML`, and `MAIL_VERIFY_*`); a replacement
//! that does not render is logged and the default is used, so a typo never stops a reset.

use super::codes::Purpose;
use crate::error::{CoreError, CoreResult};
use minijinja::Environment;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a template may use.
#[derive(Debug, Serialize)]
pub(crate) struct MailVars<'a> {
    pub tenant: &'a str,
    pub email: &'a str,
    pub firstname: &'a str,
    pub lastname: &'a str,
    pub link: &'a str,
    pub code: &'a str,
    pub ttl_minutes: i64,
}

/// One mail, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone, Copy)]
enum Part {
    Subject,
    Text,
    Html,
}

fn default_source(purpose: Purpose, part: Part) -> &'static str {
    match (purpose, part) {
        (Purpose::Reset, Part::Subject) => include_str!("templates/reset.subject.txt"),
        (Purpose::Reset, Part::Text) => include_str!("templates/reset.txt"),
        (Purpose::Reset, Part::Html) => include_str!("templates/reset.html"),
        (Purpose::Verify, Part::Subject) => include_str!("templates/verify.subject.txt"),
        (Purpose::Verify, Part::Text) => include_str!("templates/verify.txt"),
        (Purpose::Verify, Part::Html) => include_str!("templates/verify.html"),
    }
}

/// The configuration key that replaces one template, e.g. `MAIL_RESET_HTML`.
fn override_key(purpose: Purpose, part: Part) -> String {
    let part = match part {
        Part::Subject => "SUBJECT",
        Part::Text => "TEXT",
        Part::Html => "HTML",
    };
    format!("MAIL_{}_{part}", purpose.as_str().to_ascii_uppercase())
}

fn render_one(source: &str, part: Part, vars: &MailVars<'_>) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    // The name decides escaping: `.html` escapes every value put into the page.
    let name = match part {
        Part::Html => "mail.html",
        _ => "mail.txt",
    };
    env.add_template(name, source)?;
    env.get_template(name)?.render(vars)
}

fn part(
    purpose: Purpose,
    part: Part,
    overrides: &BTreeMap<String, String>,
    vars: &MailVars<'_>,
) -> CoreResult<String> {
    let key = override_key(purpose, part);
    if let Some(source) = overrides.get(&key) {
        match render_one(source, part, vars) {
            Ok(out) => return Ok(out),
            Err(e) => log::warn!("mail template {key} does not render ({e}); using the default"),
        }
    }
    render_one(default_source(purpose, part), part, vars)
        .map_err(|e| CoreError::Internal(format!("default mail template: {e}")))
}

pub(crate) fn render(
    purpose: Purpose,
    overrides: &BTreeMap<String, String>,
    vars: &MailVars<'_>,
) -> CoreResult<Rendered> {
    let subject = part(purpose, Part::Subject, overrides, vars)?;
    Ok(Rendered {
        // One line: a header cannot hold a newline.
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text: part(purpose, Part::Text, overrides, vars)?,
        html: part(purpose, Part::Html, overrides, vars)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(firstname: &'a str, link: &'a str) -> MailVars<'a> {
        MailVars {
            tenant: "Acme",
            email: "ann@example.com",
            firstname,
            lastname: "",
            link,
            code: "c0de",
            ttl_minutes: 60,
        }
    }

    #[test]
    fn defaults_render_text_and_escaped_html() {
        let v = vars("<b>Ann</b>", "https://app.example/#/resetpassword/c0de");
        let r = render(Purpose::Reset, &BTreeMap::new(), &v).unwrap();
        assert_eq!(r.subject, "Reset your Acme password");
        assert!(r.text.contains("https://app.example/#/resetpassword/c0de"));
        assert!(r.text.contains("<b>Ann</b>"), "text is not escaped");
        assert!(r.html.contains("&lt;b&gt;Ann&lt;&#x2f;b&gt;") || r.html.contains("&lt;b&gt;Ann"));
        assert!(!r.html.contains("<b>Ann</b>"));
        let r = render(Purpose::Verify, &BTreeMap::new(), &v).unwrap();
        assert!(r.subject.starts_with("Verify your email address"));
    }

    #[test]
    fn a_tenant_template_replaces_the_default_and_a_broken_one_falls_back() {
        let v = vars("Ann", "https://x.example/{c}");
        let mut o = BTreeMap::new();
        o.insert(
            "MAIL_RESET_SUBJECT".to_string(),
            "{{ tenant }}:\n reset".to_string(),
        );
        o.insert("MAIL_RESET_TEXT".to_string(), "{% if %}".to_string());
        let r = render(Purpose::Reset, &o, &v).unwrap();
        assert_eq!(r.subject, "Acme: reset");
        assert!(r.text.contains("someone asked to reset"));
    }
}
