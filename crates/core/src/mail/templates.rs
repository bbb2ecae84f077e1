//! The mails' subjects and bodies: minijinja templates, text and HTML, with defaults in the repo
//! (`mail/templates/`). A tenant may replace any of them with a setting (`MAIL_RESET_SUBJECT`,
//! `MAIL_RESET_TEXT`, `MAIL_RESET_HTML`, and `MAIL_VERIFY_*`).
//!
//! A tenant's template is code a tenant admin runs on the shared node, so it runs in a box: a
//! small language (the tags `if`/`elif`/`else`/`endif` and `for`/`endfor`, a handful of string
//! filters, no functions, no `set`, macros, `*` or `**`: nothing that can grow a value faster than
//! the template is long), the documented variables only, minijinja's fuel (an instruction budget)
//! and a cap on the output. `validate` refuses at save time what breaks these rules or exhausts
//! the budget on sample values; a template that still exhausts it at render time (longer real
//! values) fails that one mail. A template that does not render for any other reason (one stored
//! before templates were checked) is logged and the default is used, so an old typo never stops
//! a reset.

use super::codes::Purpose;
use crate::error::CoreError;
use minijinja::machinery::{tokenize, Token, WhitespaceConfig};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// The settings that replace a template.
pub const TEMPLATE_KEYS: &[&str] = &[
    "MAIL_RESET_SUBJECT",
    "MAIL_RESET_TEXT",
    "MAIL_RESET_HTML",
    "MAIL_VERIFY_SUBJECT",
    "MAIL_VERIFY_TEXT",
    "MAIL_VERIFY_HTML",
];

/// The variables a template may use.
pub const VARIABLES: &[&str] = &[
    "tenant",
    "email",
    "firstname",
    "lastname",
    "link",
    "code",
    "ttl_minutes",
];

/// The longest template a tenant may store (characters).
pub const TEMPLATE_MAX_CHARS: usize = 4096;
/// Instructions one part may run. The default templates use about 60; a tenant's template of
/// 4096 characters without loops cannot use more than a few thousand; a loop over a variable's
/// characters inside another (10,000 iterations on a real link) is refused.
pub const FUEL: u64 = 20_000;
/// The most one rendered part may hold (bytes).
pub const OUTPUT_MAX_BYTES: usize = 64 * 1024;

const TAGS: &[&str] = &["if", "elif", "else", "endif", "for", "endfor"];
const FILTERS: &[&str] = &[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "escape",
    "e",
    "default",
    "d",
    "length",
];

/// What a template may use.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MailVars {
    pub tenant: String,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub link: String,
    pub code: String,
    pub ttl_minutes: i64,
}

/// One mail, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a tenant's template produced no mail.
#[derive(Debug)]
pub(crate) enum RenderError {
    /// The template ran out of fuel or wrote past the cap: this mail is given up.
    Budget { key: String, reason: String },
    /// A default template failed: a bug of ours.
    Internal(CoreError),
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

fn part_of_key(key: &str) -> Part {
    if key.ends_with("_HTML") {
        Part::Html
    } else if key.ends_with("_SUBJECT") {
        Part::Subject
    } else {
        Part::Text
    }
}

/// The box: no functions, no globals, the listed filters, fuel.
fn environment() -> Environment<'static> {
    let mut env = Environment::empty();
    // The name decides escaping: `.html` escapes every value put into the page.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_fuel(Some(FUEL));
    use minijinja::filters as f;
    env.add_filter("upper", f::upper);
    env.add_filter("lower", f::lower);
    env.add_filter("title", f::title);
    env.add_filter("capitalize", f::capitalize);
    env.add_filter("trim", f::trim);
    env.add_filter("escape", f::escape);
    env.add_filter("e", f::escape);
    env.add_filter("default", f::default);
    env.add_filter("d", f::default);
    env.add_filter("length", f::length);
    env.add_test("defined", minijinja::tests::is_defined);
    env.add_test("undefined", minijinja::tests::is_undefined);
    env.add_test("none", minijinja::tests::is_none);
    env
}

/// How a render failed.
enum Failure {
    /// Fuel or the output cap: the template is too heavy.
    Budget(String),
    /// Anything else (syntax, a filter's error, a rule of the box).
    Broken(String),
}

/// The source's tokens against the box's rules: only the listed tags, no `*` or `**`, filters
/// from the list. Returns what is wrong, in words for the tenant admin.
// `SyntaxConfig` is a unit struct unless minijinja's `custom_syntax` feature is on (a feature
// another crate may turn on): `default()` compiles either way.
#[allow(clippy::default_constructed_unit_structs)]
fn check_tokens(source: &str) -> Result<(), String> {
    let mut after_block_start = false;
    let mut after_pipe = false;
    for token in tokenize(
        source,
        false,
        SyntaxConfig::default(),
        WhitespaceConfig::default(),
    ) {
        let (token, _) = token.map_err(|e| format!("does not parse: {e}"))?;
        match &token {
            Token::Ident(tag) if after_block_start && !TAGS.contains(tag) => {
                return Err(format!(
                    "uses the tag '{tag}'; mail templates may use only {}",
                    TAGS.join(", ")
                ))
            }
            Token::Ident(name) if after_pipe && !FILTERS.contains(name) => {
                return Err(format!(
                    "uses the filter '{name}'; mail templates may use only {}",
                    FILTERS.join(", ")
                ))
            }
            Token::Mul | Token::Pow => {
                return Err("uses * or **, which mail templates may not".to_owned())
            }
            _ => {}
        }
        after_block_start = matches!(token, Token::BlockStart);
        after_pipe = matches!(token, Token::Pipe);
    }
    Ok(())
}

/// A writer that refuses to hold more than `OUTPUT_MAX_BYTES`.
struct Capped {
    out: Vec<u8>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > OUTPUT_MAX_BYTES {
            self.over = true;
            return Err(std::io::Error::other("the mail part is too long"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn render_one(source: &str, part: Part, vars: &MailVars) -> Result<String, Failure> {
    check_tokens(source).map_err(Failure::Broken)?;
    let mut env = environment();
    let name = match part {
        Part::Html => "mail.html",
        _ => "mail.txt",
    };
    env.add_template(name, source)
        .map_err(|e| Failure::Broken(e.to_string()))?;
    let template = env
        .get_template(name)
        .map_err(|e| Failure::Broken(e.to_string()))?;
    let mut out = Capped {
        out: Vec::new(),
        over: false,
    };
    let result = template.render_captured_to(vars, &mut out).map(drop);
    match result {
        Ok(()) => String::from_utf8(out.out).map_err(|e| Failure::Broken(e.to_string())),
        Err(_) if out.over => Err(Failure::Budget(format!(
            "renders more than {} KiB",
            OUTPUT_MAX_BYTES / 1024
        ))),
        Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(Failure::Budget(format!(
            "runs more than {FUEL} instructions (the render budget)"
        ))),
        Err(e) => Err(Failure::Broken(e.to_string())),
    }
}

/// Sample values as long as real ones, for the trial render at save time.
fn sample_vars() -> MailVars {
    MailVars {
        tenant: "Example Company Incorporated".to_owned(),
        email: "firstname.lastname@mail.example.com".to_owned(),
        firstname: "Firstname".to_owned(),
        lastname: "Lastname".to_owned(),
        link: format!(
            "https://auth.tenant-name.example.com/#/verify/email/{}/{}",
            "0".repeat(24),
            "0".repeat(64)
        ),
        code: "0".repeat(64),
        ttl_minutes: 60,
    }
}

/// Checks a template a tenant sets (`key` one of `TEMPLATE_KEYS`): size, the box's rules,
/// syntax, the documented variables only, and a trial render within the budget.
pub fn validate(key: &str, source: &str) -> Result<(), CoreError> {
    let refuse = |why: String| CoreError::invalid("value", format!("{key} {why}"));
    if source.chars().count() > TEMPLATE_MAX_CHARS || source.contains('\0') {
        return Err(refuse(format!(
            "must be at most {TEMPLATE_MAX_CHARS} characters without NUL"
        )));
    }
    check_tokens(source).map_err(refuse)?;
    let mut env = environment();
    env.add_template("mail.txt", source)
        .map_err(|e| refuse(format!("does not parse: {e}")))?;
    let template = env
        .get_template("mail.txt")
        .map_err(|e| refuse(format!("does not parse: {e}")))?;
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !VARIABLES.contains(&v.as_str()))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(refuse(format!(
            "uses {}; mail templates may use only {}",
            unknown.join(", "),
            VARIABLES.join(", ")
        )));
    }
    match render_one(source, part_of_key(key), &sample_vars()) {
        Ok(_) => Ok(()),
        Err(Failure::Budget(why)) => Err(refuse(format!("{why} on sample values"))),
        Err(Failure::Broken(why)) => Err(refuse(format!("does not render: {why}"))),
    }
}

fn part(
    purpose: Purpose,
    part: Part,
    overrides: &BTreeMap<String, String>,
    vars: &MailVars,
) -> Result<String, RenderError> {
    let key = override_key(purpose, part);
    if let Some(source) = overrides.get(&key) {
        match render_one(source, part, vars) {
            Ok(out) => return Ok(out),
            Err(Failure::Budget(reason)) => return Err(RenderError::Budget { key, reason }),
            Err(Failure::Broken(e)) => {
                log::warn!("mail template {key} does not render ({e}); using the default")
            }
        }
    }
    match render_one(default_source(purpose, part), part, vars) {
        Ok(out) => Ok(out),
        Err(Failure::Budget(e) | Failure::Broken(e)) => Err(RenderError::Internal(
            CoreError::Internal(format!("default mail template: {e}")),
        )),
    }
}

/// Renders the three parts. Runs up to `FUEL` instructions per part: call it off the async
/// workers.
pub(crate) fn render(
    purpose: Purpose,
    overrides: &BTreeMap<String, String>,
    vars: &MailVars,
) -> Result<Rendered, RenderError> {
    let subject = part(purpose, Part::Subject, overrides, vars)?;
    Ok(Rendered {
        // One line: a header cannot hold a newline.
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text: part(purpose, Part::Text, overrides, vars)?,
        html: part(purpose, Part::Html, overrides, vars)?,
    })
}

/// `render` as `CoreResult`, for tests and callers that do not tell the two failures apart.
#[cfg(test)]
fn render_core(
    purpose: Purpose,
    overrides: &BTreeMap<String, String>,
    vars: &MailVars,
) -> crate::error::CoreResult<Rendered> {
    render(purpose, overrides, vars).map_err(|e| match e {
        RenderError::Budget { key, reason } => {
            CoreError::invalid("value", format!("{key} {reason}"))
        }
        RenderError::Internal(e) => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(firstname: &str, link: &str) -> MailVars {
        MailVars {
            tenant: "Acme".into(),
            email: "ann@example.com".into(),
            firstname: firstname.into(),
            lastname: "".into(),
            link: link.into(),
            code: "c0de".into(),
            ttl_minutes: 60,
        }
    }

    #[test]
    fn defaults_render_text_and_escaped_html() {
        let v = vars("<b>Ann</b>", "https://app.example/#/resetpassword/c0de");
        let r = render_core(Purpose::Reset, &BTreeMap::new(), &v).unwrap();
        assert_eq!(r.subject, "Reset your Acme password");
        assert!(r.text.contains("https://app.example/#/resetpassword/c0de"));
        assert!(r.text.contains("<b>Ann</b>"), "text is not escaped");
        assert!(r.html.contains("&lt;b&gt;Ann&lt;&#x2f;b&gt;") || r.html.contains("&lt;b&gt;Ann"));
        assert!(!r.html.contains("<b>Ann</b>"));
        let r = render_core(Purpose::Verify, &BTreeMap::new(), &v).unwrap();
        assert!(r.subject.starts_with("Verify your email address"));
    }

    #[test]
    fn the_defaults_pass_the_checks_a_tenant_template_meets() {
        for purpose in [Purpose::Reset, Purpose::Verify] {
            for part in [Part::Subject, Part::Text, Part::Html] {
                let key = override_key(purpose, part);
                validate(&key, default_source(purpose, part)).unwrap();
            }
        }
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
        // Stored before templates were checked: a function the box does not have.
        o.insert(
            "MAIL_RESET_HTML".to_string(),
            "{% for a in range(3) %}x{% endfor %}".to_string(),
        );
        let r = render_core(Purpose::Reset, &o, &v).unwrap();
        assert_eq!(r.subject, "Acme: reset");
        assert!(r.text.contains("someone asked to reset"));
        assert!(r.html.contains("someone asked to reset"));
    }

    #[test]
    fn hostile_templates_are_refused_at_save_time_naming_the_rule() {
        let nested = "{% for a in range(8000) %}{% for b in range(8000) %}{% endfor %}{% endfor %}{{ link }}";
        let e = validate("MAIL_RESET_TEXT", nested).unwrap_err().to_string();
        assert!(e.contains("MAIL_RESET_TEXT"), "{e}");
        let heavy = "{% for a in link %}{% for b in link %}{% endfor %}{% endfor %}{{ link }}";
        let e = validate("MAIL_RESET_TEXT", heavy).unwrap_err().to_string();
        assert!(e.contains("instructions"), "{e}");
        let wide = "{% for a in link %}{% for b in link %}{{ link }}{% endfor %}{% endfor %}";
        let e = validate("MAIL_RESET_HTML", wide).unwrap_err().to_string();
        assert!(e.contains("instructions") || e.contains("KiB"), "{e}");
        for (bad, says) in [
            ("{% set a = link ~ link %}{{ a }}", "tag 'set'"),
            ("{% macro m() %}x{% endmacro %}", "tag 'macro'"),
            ("{{ link * 1000000 }}", "*"),
            ("{{ 2 ** 62 }}", "*"),
            ("{{ link|replace('a', link) }}", "filter 'replace'"),
            ("{{ range(10)|join(link) }}", "filter 'join'"),
            ("{{ password }}", "uses password"),
            ("{{ user.secret }}", "uses user"),
            ("{% if %}", "does not parse"),
            ("{{ \"}}\" ~ link * 3 }}", "*"),
        ] {
            let e = validate("MAIL_RESET_TEXT", bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let long = "x".repeat(TEMPLATE_MAX_CHARS + 1);
        assert!(validate("MAIL_RESET_TEXT", &long).is_err());
        // What real templates do is fine.
        validate(
            "MAIL_RESET_HTML",
            "<p>Hi {{ firstname|default('there')|title }}{% if lastname %} {{ lastname }}{% endif %},</p>\
             {% for w in ['a', 'b'] %}{{ loop.index }}{{ w|upper }}{% endfor %}\
             <a href=\"{{ link }}\">{{ code|e }}</a> {{ ttl_minutes // 60 }} h, {{ email|length }}",
        )
        .unwrap();
    }

    #[test]
    fn at_render_time_a_template_past_the_budget_fails_the_mail_without_falling_back() {
        let heavy = "{% for a in link %}{% for b in link %}{% for c in link %}{% endfor %}{% endfor %}{% endfor %}";
        let mut o = BTreeMap::new();
        o.insert("MAIL_RESET_TEXT".to_string(), heavy.to_string());
        let v = vars("Ann", &format!("https://x.example/{}", "c".repeat(64)));
        let started = std::time::Instant::now();
        match render(Purpose::Reset, &o, &v) {
            Err(RenderError::Budget { key, reason }) => {
                assert_eq!(key, "MAIL_RESET_TEXT");
                assert!(reason.contains("instructions"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let mut o = BTreeMap::new();
        o.insert(
            "MAIL_RESET_TEXT".to_string(),
            "{% for a in link %}{{ link }}{{ link }}{{ link }}{{ link }}{% endfor %}".to_string(),
        );
        let v = vars("Ann", &format!("https://x.example/{}", "c".repeat(200)));
        match render(Purpose::Reset, &o, &v) {
            Err(RenderError::Budget { reason, .. }) => assert!(reason.contains("KiB"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
