//! The five commands over the shared runner of `storage_api::migrate`.

use crate::cli::{Cli, Command, GlobalArgs};
use crate::errors::{CliError, exit};
use crate::output::{Out, human_duration, plural, utc_time};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use storage_api::migrate::{
    self, AppliedStep, BaselinePlan, HistoryRow, LiveColumn, MigrationStatus, StatementFailure,
    StatusReport, Step, UpOptions,
};
use storage_api::{ConnectionUri, Migration, MigrationDriver, OpenOptions, StorageError};

/// Where the URI came from, as printed.
fn resolve(g: &GlobalArgs) -> Result<(String, ConnectionUri), CliError> {
    if let Some(u) = &g.database_url {
        return Ok(("--database-url".to_owned(), ConnectionUri::parse(u)?));
    }
    if let Some(name) = &g.env {
        let value = std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "environment variable {name} (named by --env) is not set or empty"
                ))
                .hint(format!("export {name}=URI, or pass --database-url URI"))
            })?;
        let uri = ConnectionUri::parse(&value).map_err(|e| {
            CliError::from(StorageError::Config(format!(
                "{name} (named by --env): {e}"
            )))
        })?;
        return Ok((format!("environment variable {name} (--env)"), uri));
    }
    let (source, uri) = storage_api::resolve_uri(None)?;
    Ok((source.to_string(), uri))
}

/// Runs the parsed command; `Ok` carries the exit code.
pub async fn execute(cli: &Cli, out: &mut Out<'_>) -> Result<i32, CliError> {
    let g = &cli.global;
    let (source, uri) = resolve(g)?;
    out.add_secret(&uri);
    let mut database = json!({ "source": source, "uri": uri.redacted() });
    out.set("database", database.clone());
    out.info(&format!("database: {} (from {source})", uri.redacted()));
    if uri
        .param("pooler")
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("transaction"))
    {
        out.info(
            "behind a transaction-mode pooler (pooler=transaction): the migration lock is a \
             transaction-level advisory lock held by one transaction in which all pending \
             migrations run, each in a savepoint with its history row; they are committed \
             together at the end, and nothing is applied if the run is interrupted",
        );
    }

    let backend = storage_api::open::backend_for(&uri.scheme)?;
    if g.schema.is_some() && backend.name != "postgresql" {
        return Err(CliError::usage(format!(
            "--schema applies to PostgreSQL only, and this URI is for {}",
            backend.name
        )));
    }
    let options = OpenOptions {
        table_prefix: g.table_prefix.clone(),
        schema: g.schema.clone(),
        pool_size: Some(2),
        min_idle: Some(0),
        ..Default::default()
    }
    .merge_env(backend.env_prefix)?;
    let prefix = options.table_prefix()?;
    let schema = options
        .schema
        .clone()
        .or_else(|| uri.param("currentSchema").map(str::to_owned));
    let history_table = format!("{prefix}schema_migrations");
    database["backend"] = json!(backend.name);
    database["table_prefix"] = json!(prefix);
    database["schema"] = json!(schema);
    database["history_table"] = json!(history_table);
    out.set("database", database);
    let mut described = format!("backend: {}", backend.name);
    if let Some(s) = &schema {
        described.push_str(&format!(", schema `{s}`"));
    }
    if prefix.is_empty() {
        described.push_str(", no table prefix");
    } else {
        described.push_str(&format!(", table prefix `{prefix}`"));
    }
    described.push_str(&format!(", history table `{history_table}`"));
    out.info(&described);

    let read_only = g.dry_run || !cli.command.changes_database();
    if read_only
        && uri.scheme == "sqlite"
        && !uri.is_sqlite_memory()
        && !std::path::Path::new(&uri.path).exists()
    {
        // Opening would create the file: answer from the embedded migrations instead.
        out.info("the SQLite file does not exist yet: every migration is pending");
        let mut driver = EmptyDatabase {
            migrations: storage_sqlite::migrations(),
            prefix,
        };
        return run_command(cli, out, &mut driver, &uri).await;
    }

    let storage = storage_api::open_parsed(uri.clone(), options).await?;
    let result = async {
        let mut driver = storage.migration_driver().await?;
        run_command(cli, out, &mut *driver, &uri).await
    }
    .await;
    storage.close().await;
    result
}

async fn run_command(
    cli: &Cli,
    out: &mut Out<'_>,
    driver: &mut dyn MigrationDriver,
    uri: &ConnectionUri,
) -> Result<i32, CliError> {
    let g = &cli.global;
    let options = |to| UpOptions {
        to,
        lock: !g.no_lock,
        lock_timeout: Duration::from_secs(g.lock_timeout),
    };
    match &cli.command {
        Command::Status { exit_code } => status(out, driver, *exit_code).await,
        Command::Up { to } => {
            check_version(driver, *to, false)?;
            if g.dry_run {
                up_dry_run(out, driver, *to).await
            } else {
                up(out, driver, &options(*to), g, uri).await
            }
        }
        Command::Down {
            to,
            allow_data_loss,
        } => {
            check_version(driver, Some(*to), true)?;
            down(
                out,
                driver,
                *to,
                *allow_data_loss,
                &options(None),
                g.dry_run,
            )
            .await
        }
        Command::Baseline => baseline(out, driver, &options(None), g.dry_run).await,
        Command::Repair { assume_applied } => {
            repair(out, driver, *assume_applied, &options(None), g.dry_run).await
        }
    }
}

/// `--to V` must name a known version (or 0 for `down`).
fn check_version(
    driver: &dyn MigrationDriver,
    to: Option<u32>,
    zero_ok: bool,
) -> Result<(), CliError> {
    let Some(to) = to else { return Ok(()) };
    let known: Vec<u32> = driver.migrations().iter().map(|m| m.version).collect();
    if (zero_ok && to == 0) || known.contains(&to) {
        return Ok(());
    }
    let list = known
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Err(CliError::usage(format!(
        "--to {to}: no such migration; known versions: {}{list}",
        if zero_ok { "0 (nothing), " } else { "" }
    ))
    .hint("`migrate status` lists the migrations"))
}

fn current_version(report: &StatusReport) -> u32 {
    report
        .migrations
        .iter()
        .filter(|(_, s)| {
            matches!(
                s,
                MigrationStatus::Applied(_)
                    | MigrationStatus::Changed { .. }
                    | MigrationStatus::PreRelease(_)
            )
        })
        .map(|(m, _)| m.version)
        .max()
        .unwrap_or(0)
}

fn row_json(row: &HistoryRow) -> Value {
    json!({
        "applied_at_ms": row.applied_at,
        "applied_at": utc_time(row.applied_at),
        "execution_ms": row.execution_ms,
        "recorded_checksum": row.checksum,
        "recorded_state": row.state.as_str(),
    })
}

// ---------------------------------------------------------------- status

async fn status(
    out: &mut Out<'_>,
    driver: &mut dyn MigrationDriver,
    exit_code: bool,
) -> Result<i32, CliError> {
    let report = migrate::status(driver).await?;
    let mut rows = Vec::new();
    out.info(&format!(
        "{:>7}  {:<20}  {:<8}  {:<23}  {}",
        "VERSION", "NAME", "STATE", "APPLIED AT", "TOOK"
    ));
    for (m, s) in &report.migrations {
        let mut j = json!({
            "version": m.version,
            "name": m.name,
            "checksum": m.checksum(),
            "reversible": m.down.is_some(),
        });
        let (state, when, took, note) = match s {
            MigrationStatus::Applied(r) => (
                "applied",
                utc_time(r.applied_at),
                human_duration(Duration::from_millis(r.execution_ms.max(0) as u64)),
                None,
            ),
            MigrationStatus::Pending => ("pending", "-".to_owned(), "-".to_owned(), None),
            MigrationStatus::Failed(r) => (
                "FAILED",
                utc_time(r.applied_at),
                "-".to_owned(),
                Some(format!(
                    "started at {} and never finished: fix the database, then `migrate repair`",
                    utc_time(r.applied_at)
                )),
            ),
            MigrationStatus::PreRelease(row) => (
                "PRE-RELEASE",
                utc_time(row.applied_at),
                human_duration(Duration::from_millis(row.execution_ms.max(0) as u64)),
                Some(
                    "applied by a pre-release build whose layout this release replaced: keep the rows you need, then `migrate down --to 0 --allow-data-loss` and `migrate up` (see below)"
                        .to_owned(),
                ),
            ),
            MigrationStatus::Changed { row, current } => (
                "CHANGED",
                utc_time(row.applied_at),
                human_duration(Duration::from_millis(row.execution_ms.max(0) as u64)),
                Some(format!(
                    "changed since applied: recorded checksum {}, embedded checksum {current}",
                    row.checksum
                )),
            ),
        };
        let obj = j.as_object_mut().expect("object");
        if let MigrationStatus::Applied(r)
        | MigrationStatus::Failed(r)
        | MigrationStatus::PreRelease(r)
        | MigrationStatus::Changed { row: r, .. } = s
            && let Value::Object(extra) = row_json(r)
        {
            obj.extend(extra);
        }
        obj.insert(
            "state".into(),
            json!(match s {
                MigrationStatus::Applied(_) => "applied",
                MigrationStatus::Pending => "pending",
                MigrationStatus::Failed(_) => "failed",
                MigrationStatus::PreRelease(_) => "pre_release",
                MigrationStatus::Changed { .. } => "changed",
            }),
        );
        rows.push(j);
        out.info(&format!(
            "{:>7}  {:<20}  {state:<8}  {when:<23}  {took}",
            m.version, m.name
        ));
        if let Some(n) = note {
            out.info(&format!("{:>7}  {n}", ""));
        }
    }
    for r in &report.unknown {
        out.info(&format!(
            "{:>7}  {:<20}  {:<8}  {:<23}  {}",
            r.version,
            r.name,
            "UNKNOWN",
            utc_time(r.applied_at),
            "not a migration of this binary"
        ));
    }
    let pending = report.pending();
    let check = report.check();
    let version = current_version(&report);
    out.set("migrations", rows);
    out.set(
        "unknown",
        report
            .unknown
            .iter()
            .map(|r| {
                let mut j = row_json(r);
                j["version"] = json!(r.version);
                j["name"] = json!(r.name);
                j
            })
            .collect::<Vec<_>>(),
    );
    out.set("pending", pending.clone());
    out.set("version", version);
    out.set("up_to_date", pending.is_empty() && check.is_ok());
    check?;
    if pending.is_empty() {
        out.info(&format!(
            "up to date: {} applied, at version {version}",
            plural(report.migrations.len(), "migration")
        ));
    } else {
        out.info(&format!(
            "{} pending ({}): run `migrate up`",
            plural(pending.len(), "migration"),
            pending
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(if exit_code && !pending.is_empty() {
        exit::PENDING
    } else {
        exit::OK
    })
}

// ---------------------------------------------------------------- up

fn step_json(step: &Step) -> Value {
    json!({
        "version": step.version,
        "name": step.name,
        "checksum": step.checksum,
        "statements": step.statements,
        "notes": step
            .notes
            .iter()
            .map(|(i, n)| json!({ "statement_index": i + 1, "note": n }))
            .collect::<Vec<_>>(),
    })
}

fn print_steps(out: &mut Out<'_>, steps: &[Step], verb: &str) {
    for step in steps {
        let checksum = if verb == "up:" {
            format!(", checksum {}", step.checksum)
        } else {
            String::new()
        };
        out.info(&format!(
            "\n{verb} migration {} ({}): {}{checksum}",
            step.version,
            step.name,
            plural(step.statements.len(), "statement"),
        ));
        for (i, s) in step.statements.iter().enumerate() {
            if let Some((_, note)) = step.notes.iter().find(|(n, _)| *n == i) {
                out.info(note);
            }
            out.sql(&format!("{s};"));
        }
    }
}

async fn up_dry_run(
    out: &mut Out<'_>,
    driver: &mut dyn MigrationDriver,
    to: Option<u32>,
) -> Result<i32, CliError> {
    out.info("dry run: nothing is changed");
    let steps = migrate::plan_up(driver, to).await?;
    out.set("steps", steps.iter().map(step_json).collect::<Vec<_>>());
    print_steps(out, &steps, "up:");
    if steps.is_empty() {
        out.info("nothing to apply: the database is up to date");
    } else {
        out.info(&format!(
            "\n{} would be applied, each recorded in `{}schema_migrations` (created if missing)",
            plural(steps.len(), "migration"),
            driver.table_prefix()
        ));
    }
    Ok(exit::OK)
}

/// The `migrate repair` command with this run's connection options.
fn repair_command(g: &GlobalArgs, uri: &ConnectionUri) -> String {
    let mut s = "migrate".to_owned();
    if g.database_url.is_some() {
        s.push_str(&format!(" --database-url '{}'", uri.redacted()));
    } else if let Some(n) = &g.env {
        s.push_str(&format!(" --env {n}"));
    }
    if let Some(p) = &g.table_prefix {
        s.push_str(&format!(" --table-prefix {p}"));
    }
    if let Some(p) = &g.schema {
        s.push_str(&format!(" --schema {p}"));
    }
    s.push_str(" repair");
    s
}

async fn up(
    out: &mut Out<'_>,
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
    g: &GlobalArgs,
    uri: &ConnectionUri,
) -> Result<i32, CliError> {
    let started = Instant::now();
    let mut applied = Vec::new();
    let result = {
        let mut progress = |s: &AppliedStep| {
            for n in &s.notes {
                out.info(&format!(
                    "          {:>4}  {}  ({})",
                    s.version,
                    n.note,
                    human_duration(n.elapsed)
                ));
            }
            out.info(&format!(
                "applied   {:>4}  {:<20}  {}",
                s.version,
                s.name,
                human_duration(s.elapsed)
            ));
            applied.push(json!({
                "version": s.version,
                "name": s.name,
                "elapsed_ms": s.elapsed.as_millis() as u64,
                "notes": s.notes.iter().map(|n| json!({
                    "note": n.note,
                    "elapsed_ms": n.elapsed.as_millis() as u64,
                })).collect::<Vec<_>>(),
            }));
        };
        migrate::up(driver, options, &mut progress).await
    };
    out.set("applied", applied.clone());
    if let Err(e) = result {
        let transactional = driver.transactional_ddl();
        let mut err = CliError::from(e);
        if err.kind == "migration_failed" {
            let version = err.details.get("version").cloned().unwrap_or(Value::Null);
            let index = err
                .details
                .get("statement_index")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            let repair = repair_command(g, uri);
            err = if transactional {
                err.hint(format!(
                    "the migration was rolled back with its history row: nothing of migration {version} was applied. Fix the cause, then run `migrate up` again"
                ))
            } else {
                let done = if index > 1 {
                    format!("statements 1 to {} of it took effect", index - 1)
                } else {
                    "none of its statements took effect".to_owned()
                };
                err.hint(format!(
                    "{} commit each DDL statement as it runs, so migration {version} stopped half-way: {done}, and the history table keeps a `started` row that makes `migrate up` refuse to run. Fix the database by hand (undo what the migration created, or complete it), then run `{repair}` and `migrate up` again (or `{repair} --assume-applied` if you completed it by hand){}",
                    match driver.backend_name() {
                        "mysql" => "MySQL/MariaDB",
                        other => other,
                    },
                    if repair.contains("***") {
                        "; put the real password in place of ***"
                    } else {
                        ""
                    }
                ))
                .detail("repair_command", repair)
            };
        }
        return Err(err);
    }
    let report = migrate::status(driver).await?;
    let version = current_version(&report);
    let pending = report.pending();
    out.set("version", version);
    out.set("pending", pending.clone());
    if applied.is_empty() {
        out.info(&format!(
            "nothing to apply: the database is up to date at version {version}"
        ));
    } else {
        out.info(&format!(
            "done: applied {} in {}; the database is at version {version}",
            plural(applied.len(), "migration"),
            human_duration(started.elapsed())
        ));
    }
    if !pending.is_empty() {
        out.info(&format!(
            "{} still pending (stopped at --to)",
            plural(pending.len(), "migration")
        ));
    }
    Ok(exit::OK)
}

// ---------------------------------------------------------------- down

/// What a down script destroys: dropped tables and columns, truncated or deleted rows.
fn data_loss(statements: &[String]) -> Vec<String> {
    let mut lost = Vec::new();
    for s in statements {
        let words: Vec<String> = s
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .flat_map(str::split_whitespace)
            .map(|w| w.to_owned())
            .collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let name_after = |i: usize| {
            let mut i = i;
            if upper.get(i).map(String::as_str) == Some("IF")
                && upper.get(i + 1).map(String::as_str) == Some("EXISTS")
            {
                i += 2;
            }
            words
                .get(i)
                .map(|w| {
                    w.trim_end_matches([',', ';'])
                        .trim_matches(['`', '"'])
                        .to_owned()
                })
                .unwrap_or_default()
        };
        match (
            upper.first().map(String::as_str),
            upper.get(1).map(String::as_str),
        ) {
            (Some("DROP"), Some("TABLE")) => lost.push(format!("table {}", name_after(2))),
            (Some("TRUNCATE"), _) => lost.push(format!("rows of {}", s.trim())),
            (Some("DELETE"), _) => lost.push(format!("rows: {}", s.trim())),
            _ => {
                for (i, w) in upper.iter().enumerate() {
                    if w == "DROP" && upper.get(i + 1).map(String::as_str) == Some("COLUMN") {
                        lost.push(format!("column {}", name_after(i + 2)));
                    }
                }
            }
        }
    }
    lost
}

async fn down(
    out: &mut Out<'_>,
    driver: &mut dyn MigrationDriver,
    to: u32,
    allow_data_loss: bool,
    options: &UpOptions,
    dry_run: bool,
) -> Result<i32, CliError> {
    let steps = migrate::plan_down(driver, to).await?;
    let losses: Vec<(u32, String, Vec<String>)> = steps
        .iter()
        .map(|s| (s.version, s.name.clone(), data_loss(&s.statements)))
        .filter(|(_, _, l)| !l.is_empty())
        .collect();
    out.set(
        "data_loss",
        losses
            .iter()
            .map(|(v, n, l)| json!({ "version": v, "name": n, "drops": l }))
            .collect::<Vec<_>>(),
    );
    if dry_run {
        out.info("dry run: nothing is changed");
        out.set("steps", steps.iter().map(step_json).collect::<Vec<_>>());
        print_steps(out, &steps, "down:");
        if steps.is_empty() {
            out.info(&format!(
                "nothing to revert: no applied migration above version {to}"
            ));
        } else {
            out.info(&format!(
                "\n{} would be reverted, newest first, each removed from the history table",
                plural(steps.len(), "migration")
            ));
            if !losses.is_empty() && !allow_data_loss {
                out.info("this drops data: the real run needs --allow-data-loss");
            }
        }
        return Ok(exit::OK);
    }
    if steps.is_empty() {
        out.set("reverted", Vec::<Value>::new());
        out.info(&format!(
            "nothing to revert: no applied migration above version {to}"
        ));
        return Ok(exit::OK);
    }
    if !losses.is_empty() && !allow_data_loss {
        let what = losses
            .iter()
            .map(|(v, n, l)| {
                let tables = l.iter().filter(|x| x.starts_with("table ")).count();
                let what = if tables == l.len() {
                    plural(tables, "table")
                } else {
                    plural(l.len(), "object")
                };
                format!("migration {v} ({n}) drops {what} ({})", l.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(CliError::new(
            exit::USAGE,
            "data_loss_refused",
            format!("refusing to revert: {what}, with everything stored in them"),
        )
        .hint("back up the database, check the SQL with `--dry-run`, then run again with --allow-data-loss"));
    }
    let started = Instant::now();
    let mut reverted = Vec::new();
    let result = {
        let mut progress = |s: &AppliedStep| {
            out.info(&format!(
                "reverted  {:>4}  {:<20}  {}",
                s.version,
                s.name,
                human_duration(s.elapsed)
            ));
            reverted.push(json!({
                "version": s.version,
                "name": s.name,
                "elapsed_ms": s.elapsed.as_millis() as u64,
            }));
        };
        migrate::down(driver, to, options, &mut progress).await
    };
    out.set("reverted", reverted.clone());
    result?;
    let report = migrate::status(driver).await?;
    let version = current_version(&report);
    out.set("version", version);
    out.info(&format!(
        "done: reverted {} in {}; the database is at version {version}",
        plural(reverted.len(), "migration"),
        human_duration(started.elapsed())
    ));
    Ok(exit::OK)
}

// ---------------------------------------------------------------- baseline

async fn baseline(
    out: &mut Out<'_>,
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
    dry_run: bool,
) -> Result<i32, CliError> {
    let plan: BaselinePlan = if dry_run {
        out.info("dry run: nothing is changed");
        migrate::plan_baseline(driver).await?
    } else {
        migrate::baseline(driver, options).await?
    };
    let finding_json = |f: &migrate::BaselineFinding| {
        json!({
            "version": f.version,
            "name": f.name,
            "checksum": f.checksum,
            "tables_found": f.present,
            "tables_missing": f.missing,
        })
    };
    out.set("already_recorded", plan.already_recorded.clone());
    out.set(
        "recorded",
        plan.to_record.iter().map(finding_json).collect::<Vec<_>>(),
    );
    out.set(
        "not_found",
        plan.not_found.iter().map(finding_json).collect::<Vec<_>>(),
    );
    out.set("version", plan.level());
    out.set(
        "left_pending",
        plan.left_pending
            .iter()
            .map(|(v, n)| json!({ "version": v, "name": n }))
            .collect::<Vec<_>>(),
    );
    out.set("unmanaged_tables", plan.unmanaged_tables.clone());
    out.set("extra_columns", plan.extra_columns.clone());
    if !plan.already_recorded.is_empty() {
        out.info(&format!(
            "nothing to do: the history table already records {} ({}); baseline is for databases without history. `migrate status` shows them",
            plural(plan.already_recorded.len(), "migration"),
            plan.already_recorded
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(exit::OK);
    }
    let verb = if dry_run { "would record" } else { "recorded" };
    for f in &plan.to_record {
        out.info(&format!(
            "found all {} of migration {} ({}): {}",
            plural(f.present.len(), "table"),
            f.version,
            f.name,
            f.present.join(", ")
        ));
        out.info(&format!(
            "checked the columns and types of its tables: they are what migration {} creates",
            f.version
        ));
        out.info(&format!(
            "{verb} migration {} ({}) as applied, without running it",
            f.version, f.name
        ));
    }
    for f in &plan.not_found {
        out.info(&format!(
            "migration {} ({}): none of its tables exist; it stays pending",
            f.version, f.name
        ));
    }
    if !plan.extra_columns.is_empty() {
        out.info(&format!(
            "columns no migration creates, left untouched: {}",
            plan.extra_columns.join(", ")
        ));
    }
    if !plan.unmanaged_tables.is_empty() {
        out.info(&format!(
            "found {} of SuperTokens features this project does not manage (yet), left untouched: {}",
            plural(plan.unmanaged_tables.len(), "table"),
            plan.unmanaged_tables.join(", ")
        ));
    }
    let next = if plan.left_pending.is_empty() {
        "nothing is pending".to_owned()
    } else {
        format!(
            "{} pending ({}): run `migrate up` to apply {}",
            plural(plan.left_pending.len(), "migration"),
            plan.left_pending
                .iter()
                .map(|(v, n)| format!("{v} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            if plan.left_pending.len() == 1 {
                "it"
            } else {
                "them"
            }
        )
    };
    out.info(&format!(
        "{}: the database is at version {}; {next}",
        if dry_run { "dry run" } else { "done" },
        plan.level()
    ));
    Ok(exit::OK)
}

// ---------------------------------------------------------------- repair

async fn repair(
    out: &mut Out<'_>,
    driver: &mut dyn MigrationDriver,
    assume_applied: bool,
    options: &UpOptions,
    dry_run: bool,
) -> Result<i32, CliError> {
    let row_json = |r: &HistoryRow| json!({ "version": r.version, "name": r.name });
    let (forgotten, marked) = if dry_run {
        out.info("dry run: nothing is changed");
        let rows = migrate::plan_repair(driver).await?;
        if assume_applied {
            (Vec::new(), rows)
        } else {
            (rows, Vec::new())
        }
    } else {
        let r = migrate::repair(driver, assume_applied, options).await?;
        (r.forgotten, r.marked_applied)
    };
    out.set(
        "forgotten",
        forgotten.iter().map(row_json).collect::<Vec<_>>(),
    );
    out.set(
        "marked_applied",
        marked.iter().map(row_json).collect::<Vec<_>>(),
    );
    if forgotten.is_empty() && marked.is_empty() {
        out.info("nothing to repair: the history table has no failed migration");
        return Ok(exit::OK);
    }
    let history = format!("{}schema_migrations", driver.table_prefix());
    for r in &forgotten {
        out.info(&format!(
            "{} the `started` row of migration {} ({}) from `{history}`: it is pending again",
            if dry_run { "would delete" } else { "deleted" },
            r.version,
            r.name
        ));
    }
    for r in &marked {
        out.info(&format!(
            "{} migration {} ({}) as applied in `{history}`, without running it",
            if dry_run { "would mark" } else { "marked" },
            r.version,
            r.name
        ));
    }
    out.info(if forgotten.is_empty() {
        "next: `migrate status` to check"
    } else {
        "next: `migrate up` runs the forgotten migrations again"
    });
    Ok(exit::OK)
}

// ---------------------------------------------------------------- no database yet

/// Stands for a SQLite file that does not exist yet, so that read-only commands do
/// not create it: no history, no tables, nothing may be written.
struct EmptyDatabase {
    migrations: &'static [Migration],
    prefix: String,
}

fn read_only_error() -> StorageError {
    StorageError::Config(
        "the SQLite file does not exist; a read-only command cannot create it".into(),
    )
}

#[async_trait]
impl MigrationDriver for EmptyDatabase {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
    fn migrations(&self) -> &'static [Migration] {
        self.migrations
    }
    fn table_prefix(&self) -> &str {
        &self.prefix
    }
    fn transactional_ddl(&self) -> bool {
        true
    }
    async fn lock(&mut self, _timeout: Duration) -> Result<bool, StorageError> {
        Ok(true)
    }
    async fn unlock(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
    async fn ensure_history_table(&mut self) -> Result<(), StorageError> {
        Err(read_only_error())
    }
    async fn history_table_exists(&mut self) -> Result<bool, StorageError> {
        Ok(false)
    }
    async fn history(&mut self) -> Result<Vec<HistoryRow>, StorageError> {
        Ok(Vec::new())
    }
    async fn apply(
        &mut self,
        _step: &Step,
        _now_ms: i64,
    ) -> Result<Vec<Duration>, StatementFailure> {
        Err(StatementFailure {
            index: 0,
            error: read_only_error(),
        })
    }
    async fn revert(&mut self, _step: &Step) -> Result<(), StatementFailure> {
        Err(StatementFailure {
            index: 0,
            error: read_only_error(),
        })
    }
    async fn record(&mut self, _row: &HistoryRow) -> Result<(), StorageError> {
        Err(read_only_error())
    }
    async fn forget(&mut self, _version: u32) -> Result<(), StorageError> {
        Err(read_only_error())
    }
    async fn existing_tables(&mut self) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn existing_columns(&mut self) -> Result<Vec<LiveColumn>, StorageError> {
        Ok(Vec::new())
    }
    fn canonical_type(&self, declared: &str) -> String {
        declared.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage_api::migrate::MigrateError;

    #[test]
    fn finds_data_loss() {
        let l = data_loss(&[
            "DROP INDEX IF EXISTS st_x".into(),
            "DROP TABLE IF EXISTS st_apps".into(),
            "DROP TABLE `st_tenants`".into(),
            "ALTER TABLE st_a DROP COLUMN c".into(),
            "CREATE TABLE t (x INT)".into(),
        ]);
        assert_eq!(l, vec!["table st_apps", "table st_tenants", "column c"]);
    }

    #[test]
    fn maps_exit_codes() {
        let e: CliError = MigrateError::UnknownVersion { version: 9 }.into();
        assert_eq!(e.code, exit::FAILED);
        let e: CliError = MigrateError::Storage(StorageError::Unavailable {
            message: "refused".into(),
            source: None,
        })
        .into();
        assert_eq!(e.code, exit::UNAVAILABLE);
        let e: CliError = StorageError::Config("bad".into()).into();
        assert_eq!(e.code, exit::USAGE);
    }
}
