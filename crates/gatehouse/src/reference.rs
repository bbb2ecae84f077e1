//! docs/reference.md, rendered from the code so that it cannot drift: the command line from clap's
//! command tree (`cli.rs`), the configuration file from the config structs serialised at their
//! embedded default with the comment above each key in `config/default.toml`, and the tenant
//! settings from core's `settings::KEYS` and `settings_doc`. A command without an about text, a
//! config key without a comment, or a setting without an entry is a problem, not a blank cell.
//!
//! The test at the bottom fails when the committed file differs from the rendering; `REGENERATE`
//! writes it.

use crate::cli::Cli;
use crate::config::{Config, DEFAULT_TOML};
use clap::{ArgAction, CommandFactory};
use gatehouse_core::settings::KEYS;
use gatehouse_core::settings_doc::{doc_of, Accepts, DefaultValue};
use serde_json::Value;
use std::fmt::Write;

/// The one command that rewrites docs/reference.md from the code.
pub const REGENERATE: &str = "GATEHOUSE_UPDATE_REFERENCE=1 cargo test -p gatehouse --lib reference";

/// The whole page, or every reason it cannot be rendered honestly.
pub fn render() -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = String::new();
    out.push_str(&format!(
        "# Reference: commands, configuration and tenant settings\n\n\
         <!-- Generated from the code by `{REGENERATE}`; do not edit by hand. -->\n\n\
         Generated from the code (crates/gatehouse/src/reference.rs): the command line from\n\
         `crates/gatehouse/src/cli.rs`, the configuration from `config/default.toml` and its\n\
         structs, the tenant settings from `crates/core/src/settings_doc.rs`. A test fails when\n\
         this page and the code differ; `{REGENERATE}` writes it again.\n\n\
         - [The command line](#the-command-line)\n\
         - [The configuration file](#the-configuration-file)\n\
         - [Environment variables](#environment-variables)\n\
         - [Tenant settings](#tenant-settings)\n\n"
    ));
    commands(&mut out, &mut problems);
    configuration(&mut out, &mut problems);
    environment(&mut out);
    settings(&mut out, &mut problems);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// A table cell: one line, no bare `|`.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// A heading's anchor as GitHub makes it (lower case, punctuation dropped, spaces to `-`).
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

// ---- The command line ----------------------------------------------------------------------

struct Leaf {
    path: String,
    about: String,
    usage: String,
    args: Vec<[String; 4]>,
}

fn commands(out: &mut String, problems: &mut Vec<String>) {
    let root = Cli::command();
    out.push_str(
        "## The command line\n\n\
         One binary, `gatehouse` (`cargo install --path crates/gatehouse` puts it on PATH). With no\n\
         command it serves. Every command applies pending migrations first; errors are one line on\n\
         stderr with a non-zero exit.\n\n\
         Options of every command (before or after the command):\n\n\
         | option | default | meaning |\n| --- | --- | --- |\n",
    );
    for arg in root.get_arguments().filter(|a| !a.is_hide_set()) {
        let [name, _, default, help] = arg_row(arg);
        let _ = writeln!(out, "| `{name}` | {default} | {help} |");
    }
    out.push('\n');
    let mut leaves = Vec::new();
    for sub in root.get_subcommands() {
        walk(sub, "gatehouse", &mut leaves, problems);
    }
    out.push_str("| command | what it does |\n| --- | --- |\n");
    for leaf in &leaves {
        let _ = writeln!(
            out,
            "| [`{}`](#{}) | {} |",
            leaf.path,
            anchor(&leaf.path),
            cell(&leaf.about)
        );
    }
    out.push('\n');
    for leaf in &leaves {
        let _ = write!(
            out,
            "### {}\n\n{}\n\n```text\n{}\n```\n\n",
            leaf.path, leaf.about, leaf.usage
        );
        if !leaf.args.is_empty() {
            out.push_str("| argument | | default | meaning |\n| --- | --- | --- | --- |\n");
            for [name, kind, default, help] in &leaf.args {
                let _ = writeln!(out, "| `{name}` | {kind} | {default} | {help} |");
            }
            out.push('\n');
        }
    }
}

fn walk(cmd: &clap::Command, parent: &str, leaves: &mut Vec<Leaf>, problems: &mut Vec<String>) {
    if cmd.is_hide_set() {
        return;
    }
    let path = format!("{parent} {}", cmd.get_name());
    let about = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|s| s.to_string())
        .unwrap_or_default();
    if about.trim().is_empty() {
        problems.push(format!(
            "command `{path}` has no about text: give it a /// line in crates/gatehouse/src/cli.rs"
        ));
    }
    if cmd.has_subcommands() {
        for sub in cmd.get_subcommands() {
            walk(sub, &path, leaves, problems);
        }
        return;
    }
    let args: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
    let mut usage = path.clone();
    // Options first, then positionals, as one types them.
    let (positional, options): (Vec<&clap::Arg>, Vec<&clap::Arg>) =
        args.iter().copied().partition(|a| a.is_positional());
    for arg in options.iter().chain(positional.iter()) {
        let form = arg_form(arg);
        let repeat = if matches!(arg.get_action(), ArgAction::Append) {
            "..."
        } else {
            ""
        };
        if arg.is_required_set() {
            let _ = write!(usage, " {form}{repeat}");
        } else {
            let _ = write!(usage, " [{form}]{repeat}");
        }
    }
    leaves.push(Leaf {
        path,
        about: about.trim().to_owned(),
        usage,
        args: options
            .iter()
            .chain(positional.iter())
            .map(|a| arg_row(a))
            .collect(),
    });
}

fn value_name(arg: &clap::Arg) -> String {
    arg.get_value_names()
        .and_then(|names| names.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
}

/// `--host <HOSTS>`, `--dry-run`, `<SLUG>`.
fn arg_form(arg: &clap::Arg) -> String {
    if arg.is_positional() {
        return format!("<{}>", value_name(arg));
    }
    let flag = match (arg.get_long(), arg.get_short()) {
        (Some(long), _) => format!("--{long}"),
        (None, Some(short)) => format!("-{short}"),
        (None, None) => arg.get_id().as_str().to_owned(),
    };
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count => flag,
        _ => format!("{flag} <{}>", value_name(arg)),
    }
}

/// Name, kind (required, repeatable), default, meaning.
fn arg_row(arg: &clap::Arg) -> [String; 4] {
    let mut kind = Vec::new();
    if arg.is_required_set() {
        kind.push("required");
    }
    if matches!(arg.get_action(), ArgAction::Append) {
        kind.push("repeatable");
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !matches!(arg.get_action(), ArgAction::SetTrue) || v != "false")
        .collect();
    let default = match defaults.join(",") {
        none if defaults.is_empty() => none,
        empty if empty.is_empty() => "`\"\"`".to_owned(),
        some => format!("`{some}`"),
    };
    let mut help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    if let Some(env) = arg.get_env() {
        let env = env.to_string_lossy();
        if !help.contains(env.as_ref()) {
            help = format!("{help} (also `{env}`)").trim().to_owned();
        }
    }
    [arg_form(arg), kind.join(", "), default, cell(&help)]
}

// ---- The configuration file ----------------------------------------------------------------

/// A key of `config/default.toml` (set, or shown commented out) and the comment that documents it.
#[derive(Debug)]
struct TomlKey {
    section: String,
    key: String,
    doc: String,
}

/// A section of `config/default.toml` and the comment just above its header.
#[derive(Debug)]
struct TomlSection {
    name: String,
    doc: String,
}

/// Reads the sections in order, and each key with the comment lines just above it (a blank line
/// ends a comment), the comment after it on its line, and indented comment lines below it. A
/// comment line `# key = value` shows a key that is unset by default.
fn toml_keys(src: &str) -> (Vec<TomlSection>, Vec<TomlKey>) {
    let mut sections: Vec<TomlSection> = Vec::new();
    let mut keys: Vec<TomlKey> = Vec::new();
    let mut section = String::new();
    let mut pending: Vec<String> = Vec::new();
    let mut continuing = false;
    for line in src.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            pending.clear();
            continuing = false;
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.trim();
            if continuing && line.starts_with(char::is_whitespace) {
                if let Some(last) = keys.last_mut() {
                    last.doc = format!("{} {comment}", last.doc).trim().to_owned();
                }
                continue;
            }
            continuing = false;
            if let Some((key, _)) = key_assignment(comment) {
                keys.push(TomlKey {
                    section: section.clone(),
                    key,
                    doc: pending.join(" "),
                });
                pending.clear();
            } else {
                pending.push(comment.to_owned());
            }
            continue;
        }
        continuing = false;
        if trimmed.starts_with('[') {
            section = trimmed.trim_matches(|c| c == '[' || c == ']').to_owned();
            if !sections.iter().any(|s| s.name == section) {
                sections.push(TomlSection {
                    name: section.clone(),
                    doc: pending.join(" "),
                });
            }
            pending.clear();
            continue;
        }
        if let Some((key, rest)) = key_assignment(trimmed) {
            let mut doc = pending.join(" ");
            // A trailing comment: the text after a `#` outside a string.
            if let Some(pos) = comment_start(rest) {
                doc = format!("{doc} {}", rest[pos + 1..].trim())
                    .trim()
                    .to_owned();
                continuing = true;
            }
            keys.push(TomlKey {
                section: section.clone(),
                key,
                doc,
            });
            pending.clear();
        }
    }
    (sections, keys)
}

/// `key = rest` with a bare key.
fn key_assignment(line: &str) -> Option<(String, &str)> {
    let (key, rest) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    bare.then(|| (key.to_owned(), rest))
}

fn comment_start(value: &str) -> Option<usize> {
    let mut in_string = false;
    for (i, c) in value.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return Some(i),
            _ => {}
        }
    }
    None
}

/// A value as it is written in TOML.
fn toml_value(v: &Value) -> String {
    match v {
        Value::Null => "unset".to_owned(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{k} = {}", toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn configuration(out: &mut String, problems: &mut Vec<String>) {
    out.push_str(
        "## The configuration file\n\n\
         Layered, later wins: `config/default.toml` (built into the binary), then the file named by\n\
         `--config PATH` or `GATEHOUSE_CONFIG`, then environment variables\n\
         `GATEHOUSE__SECTION__KEY` (for example `GATEHOUSE__DATABASE__URL`). A later file replaces\n\
         a whole array (`bootstrap = []` under `[tenants]` turns the demo tenant off). Defaults\n\
         below are the embedded file's; \"unset\" is a key it leaves out.\n\n",
    );
    let config = match Config::embedded_default() {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!(
                "the embedded config/default.toml does not load: {e}"
            ));
            return;
        }
    };
    let value = match serde_json::to_value(&config) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("the configuration does not serialise: {e}"));
            return;
        }
    };
    let (sections, keys) = toml_keys(DEFAULT_TOML);
    let has_section = |name: &str| sections.iter().any(|s| s.name == name);
    // Every section of the structs is in the file.
    if let Value::Object(top) = &value {
        for name in top.keys() {
            if !has_section(name) {
                problems.push(format!(
                    "config section [{name}] is not in config/default.toml: add it with a comment above each key"
                ));
            }
        }
    }
    for TomlSection { name: section, doc } in &sections {
        let is_array = DEFAULT_TOML.contains(&format!("[[{section}]]"));
        let mut node = &value;
        for part in section.split('.') {
            node = &node[part];
        }
        if is_array {
            node = &node[0];
        }
        let Value::Object(fields) = node else {
            problems.push(format!(
                "config section [{section}] of config/default.toml is not in the config structs"
            ));
            continue;
        };
        let heading = if is_array {
            format!("[[{section}]]")
        } else {
            format!("[{section}]")
        };
        let _ = writeln!(out, "### {heading}\n");
        if !doc.is_empty() {
            let _ = writeln!(out, "{doc}\n");
        }
        if is_array {
            let _ = writeln!(
                out,
                "An array of tables; the embedded default has one entry, shown here.\n"
            );
        }
        out.push_str("| key | default | environment | meaning |\n| --- | --- | --- | --- |\n");
        let documented: Vec<&TomlKey> = keys.iter().filter(|k| &k.section == section).collect();
        for k in &documented {
            match fields.get(&k.key) {
                None => problems.push(format!(
                    "config/default.toml has [{section}] {} but the config structs do not",
                    k.key
                )),
                Some(v) => {
                    if k.doc.trim().is_empty() {
                        problems.push(format!(
                            "config key [{section}] {} has no comment in config/default.toml: write one above it",
                            k.key
                        ));
                    }
                    let scalar = !matches!(v, Value::Array(_) | Value::Object(_));
                    let env = if scalar && !is_array {
                        format!(
                            "`GATEHOUSE__{}__{}`",
                            section.replace('.', "__").to_uppercase(),
                            k.key.to_uppercase()
                        )
                    } else {
                        String::new()
                    };
                    let default = match v {
                        Value::Null => "unset".to_owned(),
                        other => format!("`{}`", toml_value(other)),
                    };
                    let _ = writeln!(
                        out,
                        "| `{}` | {default} | {env} | {} |",
                        k.key,
                        cell(&k.doc)
                    );
                }
            }
        }
        for name in fields.keys() {
            let sub_table = has_section(&format!("{section}.{name}"));
            if !sub_table && !documented.iter().any(|k| &k.key == name) {
                problems.push(format!(
                    "config key [{section}] {name} is not in config/default.toml: add it (or `# {name} = ...` when unset) with a comment above it"
                ));
            }
        }
        out.push('\n');
    }
}

fn environment(out: &mut String) {
    use gatehouse_core::master_key::{ENV_KEY, ENV_KEY_FILE, ENV_PREVIOUS};
    out.push_str("## Environment variables\n\nBesides `GATEHOUSE__SECTION__KEY` above:\n\n");
    out.push_str("| variable | meaning |\n| --- | --- |\n");
    for (name, meaning) in [
        ("GATEHOUSE_CONFIG", "the configuration file, when `--config` is not given"),
        (ENV_KEY, "the master key that seals signing keys, project secrets and `SMTP_URL` at rest: base64 of 32 bytes (`gatehouse secrets generate-key` prints one); wins over a key file"),
        (ENV_KEY_FILE, "a file holding the master key (wins over `[secrets] master_key_file`)"),
        (ENV_PREVIOUS, "earlier master keys (comma-separated) that still open secrets, for `gatehouse secrets reencrypt` after a rotation"),
        ("RUST_LOG", "log filter (`info` by default)"),
    ] {
        let _ = writeln!(out, "| `{name}` | {meaning} |");
    }
    out.push('\n');
}

// ---- Tenant settings -----------------------------------------------------------------------

fn settings(out: &mut String, problems: &mut Vec<String>) {
    out.push_str(
        "## Tenant settings\n\n\
         Per tenant, stored in the database: `gatehouse tenant set SLUG KEY VALUE` /\n\
         `gatehouse tenant unset SLUG KEY`, the operator API (`PUT .../settings/{KEY}`), the console,\n\
         or a tenant admin's Appmixer `POST /config`. An unknown key or a bad value is refused and\n\
         nothing is stored (except that `/config` keeps an unknown key spelt like a configuration\n\
         key, `A-Z`, digits and `_`, as free-form configuration it does not interpret).\n\n\
         | key | default | values | meaning |\n| --- | --- | --- | --- |\n",
    );
    for key in KEYS {
        let Some(d) = doc_of(key) else {
            problems.push(format!(
                "tenant setting {key} has no entry in crates/core/src/settings_doc.rs: add one (default, values, meaning)"
            ));
            continue;
        };
        let default = match d.default {
            DefaultValue::Value(v) => format!("`{v}`"),
            DefaultValue::Unset(what) => format!("unset: {what}"),
        };
        let values = match d.accepts {
            Accepts::Int { min, max } => format!("an integer from {min} to {max}"),
            Accepts::Bool => "`true` or `false`".to_owned(),
            Accepts::Text(words) => words.to_owned(),
        };
        let _ = writeln!(
            out,
            "| `{key}` | {} | {} | {} |",
            cell(&default),
            cell(&values),
            cell(d.meaning)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference.md")
    }

    #[test]
    fn docs_reference_md_is_the_rendering_of_the_code() {
        let rendered = render().unwrap_or_else(|problems| {
            panic!(
                "docs/reference.md cannot be rendered from the code:\n  {}",
                problems.join("\n  ")
            )
        });
        let path = committed_path();
        if std::env::var_os("GATEHOUSE_UPDATE_REFERENCE").is_some() {
            std::fs::write(&path, &rendered).expect("write docs/reference.md");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != rendered {
            let line = committed
                .lines()
                .zip(rendered.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(rendered.lines().count()));
            panic!(
                "docs/reference.md differs from the code (first at line {}):\n  file: {}\n  code: {}\nregenerate it with: {REGENERATE}",
                line + 1,
                committed.lines().nth(line).unwrap_or("<end of file>"),
                rendered.lines().nth(line).unwrap_or("<end of file>"),
            );
        }
    }

    #[test]
    fn the_reference_names_every_command_key_and_setting() {
        let page = render().unwrap_or_default();
        for needle in [
            "### gatehouse tenant create",
            "### gatehouse user reset-link",
            "### gatehouse import gatehouse",
            "| `--config <PATH>` |",
            "| `bind` | `\"127.0.0.1:8080\"` | `GATEHOUSE__SERVER__BIND` |",
            "| `workers` | `0` |",
            "| `master_key_file` | unset |",
            "| `slug` | `\"demo\"` |",
            "| `API_USER_CREATE_SCOPE` | unset: signup is open |",
            "| `TOKEN_TTL_SECONDS` | `2592000` | an integer from 1 to 31536000 |",
        ] {
            assert!(page.contains(needle), "no {needle:?} in the reference");
        }
        for key in KEYS {
            assert!(page.contains(&format!("| `{key}` |")), "{key}");
        }
    }

    #[test]
    fn the_toml_reader_takes_the_comment_above_beside_and_below_a_key() {
        let (_, keys) = toml_keys(
            "[a]\n# documented\nx = 1\ny = 2\n\n# unset by default\n# z = \"p\"\nw = \"a#b\"  # trailing\n  # more\n",
        );
        let docs: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| (k.key.as_str(), k.doc.as_str()))
            .collect();
        assert_eq!(
            docs,
            vec![
                ("x", "documented"),
                ("y", ""),
                ("z", "unset by default"),
                ("w", "trailing more")
            ]
        );
    }
}
