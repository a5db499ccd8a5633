//! # migrate-cli
//!
//! The `migrate` command (`shared/spec/migrate.md`): creates and upgrades the storage
//! schema on SQLite, PostgreSQL and MySQL/MariaDB, chosen by connection URI. It is a
//! thin layer over the shared runner in [`storage_api::migrate`]; each backend crate
//! supplies its embedded SQL, its history table and its lock.
//!
//! The binary is a few lines around [`run_with`]; tests call [`run`] in-process and
//! get the exit code and both output streams:
//!
//! ```no_run
//! # async fn f() {
//! let out = migrate_cli::run(["migrate", "--database-url", "sqlite://auth.db", "status"]).await;
//! assert_eq!(out.code, migrate_cli::exit::OK);
//! println!("{}", out.stdout);
//! # }
//! ```
#![warn(missing_docs)]

use storage_mysql as _;
use storage_postgres as _;
use storage_sqlite as _;

pub mod cli;
mod commands;
pub mod errors;
mod output;

pub use errors::exit;

use clap::Parser;
use cli::{Cli, Format};
use errors::CliError;
use output::Out;
use serde_json::Value;
use std::ffi::OsString;
use std::io::Write;
use storage_api::ConnectionUri;

/// What one in-process run of `migrate` produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The exit code (see [`exit`]).
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Outcome {
    /// stdout parsed as the JSON document of `--format json`.
    pub fn json(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.stdout)
    }
}

/// Runs `migrate` with `args` (the first one is the program name) and captures its
/// output.
pub async fn run<I, T>(args: I) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = run_with(args, &mut stdout, &mut stderr).await;
    Outcome {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs `migrate` with `args` (the first one is the program name), writing as it
/// goes to `stdout` and `stderr`; returns the exit code.
pub async fn run_with<I, T>(
    args: I,
    stdout: &mut (dyn Write + Send),
    stderr: &mut (dyn Write + Send),
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let strings: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut out = Out::new(stdout, stderr, wants_json(&strings));
    for uri in secrets_in(&strings) {
        out.add_secret(&uri);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return clap_error(&mut out, e),
    };
    out.json = cli.global.format == Format::Json;
    out.dry_run = cli.global.dry_run && cli.command.changes_database();
    out.set("command", cli.command.name());
    out.set("dry_run", cli.global.dry_run);
    let result = commands::execute(&cli, &mut out).await;
    finish(&mut out, result)
}

fn finish(out: &mut Out<'_>, result: Result<i32, CliError>) -> i32 {
    let code = match &result {
        Ok(code) => *code,
        Err(e) => e.code,
    };
    match &result {
        Ok(_) => out.set("error", Value::Null),
        Err(e) => {
            out.set("error", e.to_json());
            out.error_line(&format!("error: {}", e.message));
            if let Some(h) = &e.hint {
                out.error_line(&format!("next: {h}"));
            }
        }
    }
    out.set("ok", result.is_ok());
    out.set("exit_code", code);
    out.finish_json();
    code
}

/// Whether the arguments ask for JSON, looked at before parsing so that even a usage
/// error comes out as one JSON document.
fn wants_json(args: &[String]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        a == "--format=json" || (a == "--format" && args.get(i + 1).is_some_and(|n| n == "json"))
    })
}

/// Every URI with a password that this run could print: in the arguments, in the
/// variable named by `--env` and in the standard variables.
fn secrets_in(args: &[String]) -> Vec<ConnectionUri> {
    let mut candidates: Vec<String> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let value = a.strip_prefix("--database-url=").unwrap_or(a);
        if value.contains("://") {
            candidates.push(value.to_owned());
        }
        let env_name = if a == "--env" {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix("--env=")
        };
        if let Some(name) = env_name
            && let Ok(v) = std::env::var(name)
        {
            candidates.push(v);
        }
    }
    for var in storage_api::open::URI_ENV_VARS {
        if let Ok(v) = std::env::var(var) {
            candidates.push(v);
        }
    }
    candidates
        .iter()
        .filter_map(|c| ConnectionUri::parse(c).ok())
        .filter(Out::has_secret)
        .collect()
}

fn clap_error(out: &mut Out<'_>, e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let code = e.exit_code();
    let text = e.render().to_string();
    let is_help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if is_help {
        out.raw(false, &text);
        return exit::OK;
    }
    let code = if code == 0 { exit::OK } else { exit::USAGE };
    if out.json {
        out.set("command", Value::Null);
        out.set("dry_run", false);
        let err = CliError::usage(text.trim().to_owned())
            .hint("run `migrate --help` or `migrate COMMAND --help`");
        out.set("error", err.to_json());
        out.set("ok", false);
        out.set("exit_code", code);
        out.finish_json();
        out.raw(true, &text);
    } else {
        out.raw(true, &text);
    }
    code
}
