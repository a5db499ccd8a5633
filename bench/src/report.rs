//! `bench/results/latest.json` and the generated part of `BENCHMARKS.md`.

use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

/// Start and end markers of the generated block in `BENCHMARKS.md`.
pub const BEGIN: &str = "<!-- BEGIN GENERATED (cargo run --release -p storage-bench) -->";
/// End marker.
pub const END: &str = "<!-- END GENERATED -->";
/// Start marker of the generated phase-2 block (from `bench/results/phase2/latest.json`).
pub const P2_BEGIN: &str =
    "<!-- BEGIN GENERATED PHASE2 (cargo run --release -p storage-bench -- --phases phase2) -->";
/// End marker of the phase-2 block.
pub const P2_END: &str = "<!-- END GENERATED PHASE2 -->";
/// Where a new phase-2 block goes when the file has none: before this line if present.
const P2_SECTION_END: &str = "<!-- PHASE2 END -->";

const BACKENDS: [&str; 3] = ["sqlite", "postgresql", "mariadb"];

/// The operations of the main table, in order.
const OPS: [&str; 8] = [
    "get_session",
    "rotate_refresh_token",
    "create_session",
    "sign_up_email_password",
    "list_users_by_email",
    "create_device_with_code",
    "consume_code",
    "delete_10k_expired_sessions",
];

/// Merges one backend's output into the results file (other backends' results stay).
pub fn merge(doc: &mut Value, backend: &str, out: Value, run: Value) {
    if !doc.is_object() {
        *doc = json!({});
    }
    if !doc["backends"].is_object() {
        doc["backends"] = json!({});
    }
    let mut out = out;
    // Sections a partial run (`--phases`) did not produce keep their earlier values.
    let old = doc["backends"][backend].take();
    for section in ["results", "scale", "plans", "round_trips", "memory"] {
        let empty = out[section].as_array().is_none_or(|a| a.is_empty());
        if empty && old[section].as_array().is_some_and(|a| !a.is_empty()) {
            out[section] = old[section].clone();
            let from = format!("{section}_from_run");
            out[&from] = if old[&from].is_null() {
                old["run"].clone()
            } else {
                old[&from].clone()
            };
        }
    }
    // A run of some operations (`--ops`) replaces only those rows of the main table.
    if let (Some(new), Some(prev)) = (out["results"].as_array(), old["results"].as_array()) {
        let key = |r: &Value| {
            (
                r["operation"].clone().to_string(),
                r["concurrency"].to_string(),
            )
        };
        let mut rows: Vec<Value> = prev
            .iter()
            .filter(|r| !new.iter().any(|n| key(n) == key(r)))
            .cloned()
            .collect();
        if rows.len() < prev.len() || rows.is_empty() {
            rows.extend(new.iter().cloned());
            let order = |r: &Value| {
                (
                    OPS.iter()
                        .position(|o| r["operation"] == *o)
                        .unwrap_or(usize::MAX),
                    r["concurrency"].as_u64().unwrap_or(0),
                )
            };
            rows.sort_by_key(order);
            if rows.len() > new.len() {
                out["results_partly_from_run"] = old["run"].clone();
            }
            out["results"] = Value::Array(rows);
        }
    }
    out["run"] = run;
    doc["backends"][backend] = out;
    // The flat sections, over every backend present.
    for section in ["results", "scale", "plans", "round_trips", "memory"] {
        let mut all = Vec::new();
        for b in BACKENDS {
            if let Some(a) = doc["backends"][b][section].as_array() {
                all.extend(a.iter().cloned());
            }
        }
        doc[section] = Value::Array(all);
    }
}

fn f(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.digits$}"),
        None => "–".into(),
    }
}

fn int(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => {
            let n = x.round() as i64;
            let s = n.to_string();
            let mut out = String::new();
            for (i, ch) in s.chars().enumerate() {
                if i > 0 && (s.len() - i).is_multiple_of(3) && ch != '-' {
                    out.push(',');
                }
                out.push(ch);
            }
            out
        }
        None => "–".into(),
    }
}

/// A ratio with 4 decimals, truncated (never rounded up), so that it never reads as
/// reaching a target of at most 4 decimals that the unrounded value misses.
fn ratio(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => show_trunc(x),
        None => "–".into(),
    }
}

fn show_trunc(x: f64) -> String {
    format!("{:.4}", (x * 1e4 + 1e-9).floor() / 1e4)
}

/// `v` truncated to 4 decimals, or more if it takes more to read on the same side of
/// `target` as the unrounded value is (a target of more than 4 decimals).
pub fn show_vs(v: f64, target: f64) -> String {
    let mut d: i32 = 4;
    loop {
        let p = 10f64.powi(d);
        let shown = (v * p + 1e-9).floor() / p;
        if (shown >= target) == (v >= target) || d >= 12 {
            return format!("{shown:.*}", d as usize);
        }
        d += 1;
    }
}

/// The failed calls of each side of a result row (ours, unshared, floor, pgbench)
/// that has any.
pub fn failed_sides(r: &Value) -> Vec<(&'static str, u64)> {
    [
        ("ours", "errors"),
        ("unshared", "unshared_errors"),
        ("floor", "floor_errors"),
        ("pgbench", "pgbench_errors"),
    ]
    .into_iter()
    .filter_map(|(side, k)| {
        let n = r[k].as_u64().unwrap_or(0);
        (n > 0).then_some((side, n))
    })
    .collect()
}

/// "invalid: 3 failed calls (pgbench)" for a row with failed calls on any side.
fn invalid_note(r: &Value) -> Option<String> {
    let f = failed_sides(r);
    if f.is_empty() {
        return None;
    }
    let n: u64 = f.iter().map(|x| x.1).sum();
    let sides: Vec<String> = f.iter().map(|(s, k)| format!("{s} {k}")).collect();
    Some(format!(
        "invalid: {n} failed calls ({}), no ratio judged",
        sides.join(", ")
    ))
}

/// A target's verdict.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The unrounded ratio reaches the target.
    Met,
    /// It does not.
    Missed,
    /// A side had failed calls (or the ratio is missing): nothing judged.
    Invalid(String),
}

/// Judges `value` (unrounded) against `target`, unless a side of the row failed.
pub fn judge(r: &Value, value: Option<f64>, target: f64) -> Verdict {
    if let Some(why) = invalid_note(r) {
        return Verdict::Invalid(why);
    }
    match value {
        Some(v) if v >= target => Verdict::Met,
        Some(_) => Verdict::Missed,
        None => Verdict::Invalid("not measured in this run".into()),
    }
}

/// The targets of issue 7, evaluated on the unrounded ratios.
fn targets(doc: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| backend | operation | c | judged on | measured | target | | beside it |\n|---|---|---:|---|---:|---:|---|---|"
    );
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    for r in &results {
        let b = r["backend"].as_str().unwrap_or("");
        let op = r["operation"].as_str().unwrap_or("");
        let c = r["concurrency"].as_u64().unwrap_or(0);
        let read = matches!(op, "get_session" | "list_users_by_email");
        let mut beside = String::new();
        let (what, value, target) = match b {
            "postgresql" if c == 8 && read => {
                if let Some(v) = r["ratio_vs_pgbench"].as_f64() {
                    beside = format!(
                        "ours / pgbench {} (pipelined over shared connections)",
                        show_trunc(v)
                    );
                }
                (
                    "unshared (`pipeline_depth=1`) / pgbench",
                    r["ratio_unshared_vs_pgbench"].as_f64(),
                    0.8,
                )
            }
            "postgresql" if c == 8 => ("ours / floor", r["ratio"].as_f64(), 0.9),
            "mariadb" => ("ours / floor", r["ratio"].as_f64(), 0.8),
            "sqlite" if read => ("ours / floor", r["ratio"].as_f64(), 0.5),
            "sqlite" => ("ours / floor", r["ratio"].as_f64(), 0.8),
            _ => continue,
        };
        let verdict = judge(r, value, target);
        let shown = match (&verdict, value) {
            (Verdict::Invalid(_), _) | (_, None) => "–".to_owned(),
            (_, Some(v)) => show_vs(v, target),
        };
        let verdict = match verdict {
            Verdict::Met => "**met**".to_owned(),
            Verdict::Missed => "**missed**".to_owned(),
            Verdict::Invalid(why) => format!("**{why}**"),
        };
        let _ = writeln!(
            s,
            "| {b} | {op} | {c} | {what} | {shown} | ≥ {target} | {verdict} | {beside} |"
        );
    }
    s
}

/// The commit line of a run.
fn commit_line(r: &Value) -> String {
    let c = &r["commit"];
    let Some(short) = c["short"].as_str() else {
        return "commit not recorded".into();
    };
    let dirty = if c["dirty"] == true {
        format!(
            " — **DIRTY WORK TREE: uncommitted changes ({}) were measured, not this commit**",
            c["dirty_files"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        )
    } else {
        " (clean work tree)".into()
    };
    format!(
        "commit `{short}` (`{}`, committed {}){dirty}",
        c["full"].as_str().unwrap_or("?"),
        c["date"].as_str().unwrap_or("?"),
    )
}

/// The "Machine and runs" list.
fn runs_list(doc: &Value) -> String {
    let mut s = String::new();
    let m = &doc["machine"];
    let _ = writeln!(s, "### Machine and runs\n");
    let _ = writeln!(
        s,
        "- CPU: {} ({} cores), memory {}, kernel {}",
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        s,
        "- {}; {}; SQLite {}; {}; {}",
        m["postgresql"].as_str().unwrap_or("?"),
        m["mariadb"].as_str().unwrap_or("?"),
        m["sqlite"].as_str().unwrap_or("?"),
        m["pgbench"].as_str().unwrap_or("?"),
        m["rustc"].as_str().unwrap_or("?")
    );
    let line = |r: &Value| {
        format!(
            "`{}` on {}{}, machine `{}`, at {} (UTC), load average before {} / after {}, {} s",
            r["command"].as_str().unwrap_or(""),
            commit_line(r),
            r["source_tree"]
                .as_str()
                .map(|t| format!(", binary built from `{t}`"))
                .unwrap_or_default(),
            r["host"].as_str().unwrap_or("?"),
            r["started"].as_str().unwrap_or(""),
            r["loadavg_before"].as_str().unwrap_or("?"),
            r["loadavg_after"].as_str().unwrap_or("?"),
            f(&r["seconds"], 0)
        )
    };
    for b in BACKENDS {
        let r = &doc["backends"][b]["run"];
        if r.is_null() {
            continue;
        }
        let _ = writeln!(s, "- {b}: {}", line(r));
        for (k, what) in [
            (
                "results_from_run",
                "the main table comes from an earlier run",
            ),
            (
                "results_partly_from_run",
                "some rows of the main table come from an earlier run",
            ),
            (
                "memory_from_run",
                "the memory table comes from an earlier run",
            ),
            (
                "scale_from_run",
                "the scale table comes from an earlier run",
            ),
        ] {
            let earlier = &doc["backends"][b][k];
            if !earlier.is_null() {
                let _ = writeln!(s, "  - {b}: {what}, {}", line(earlier));
            }
        }
        let ss = &doc["backends"][b]["server_settings"];
        if let Some(before) = ss["restored_to"].as_u64() {
            let _ = writeln!(
                s,
                "  - {b}: `innodb_buffer_pool_size` raised from {} MiB to {} MiB for the run (restored after), so that the 1M data set fits in memory as it does on PostgreSQL (page cache) and SQLite",
                before >> 20,
                ss["innodb_buffer_pool_size"].as_u64().unwrap_or(0) >> 20
            );
        }
    }
    s
}

/// Writes `plans` (of `backend`, none when empty) folded under a summary naming
/// their scale and `what` it counts (`users and sessions`).
fn plan_details(s: &mut String, backend: &str, what: &str, plans: &[&Value]) {
    let Some(first) = plans.first() else {
        return;
    };
    let _ = writeln!(
        s,
        "<details><summary>{backend}: plans with {} {what}</summary>\n",
        first["users_label"].as_str().unwrap_or("")
    );
    plan_list(s, plans);
    let _ = writeln!(s, "</details>\n");
}

/// Writes each plan of `plans`: the operation, its statement and the plan's lines.
fn plan_list(s: &mut String, plans: &[&Value]) {
    for p in plans {
        let lines = p["plan"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| l.as_str().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{}:\n```sql\n{}\n```\n```\n{lines}\n```\n",
            p["operation"].as_str().unwrap_or(""),
            p["statement"].as_str().unwrap_or(""),
        );
    }
}

/// Renders the generated block.
pub fn markdown(doc: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}\n");
    s.push_str(&runs_list(doc));
    let _ = writeln!(
        s,
        "\nEach cell alternates ours and the floor in rounds (on PostgreSQL also pgbench, \
         and for the reads the storage opened with `pipeline_depth=1`, \"unshared\"), \
         ops/s over all rounds; latencies are per call. \"floor\" is the same SQL through \
         the bare driver; the bench checks before measuring that each floor sends exactly \
         the statements and values the storage sends. Ratios are of the unrounded rates, \
         shown truncated to 4 decimals. A cell where any side had a failed call is \
         invalid: its ratios are not shown.\n"
    );

    let _ = writeln!(s, "### Throughput, latency and ratios\n");
    for b in BACKENDS {
        let rows: Vec<&Value> = doc["results"]
            .as_array()
            .map(|a| a.iter().filter(|r| r["backend"] == b).collect())
            .unwrap_or_default();
        if rows.is_empty() {
            continue;
        }
        let pg = b == "postgresql";
        let _ = writeln!(s, "**{b}**\n");
        if pg {
            let _ = writeln!(
                s,
                "| operation | c | ours ops/s | unshared ops/s | floor ops/s | **ours/floor** | unshared/floor | pgbench ops/s | **ours/pgbench** | **unshared/pgbench** | ours p50 / p99 µs | unshared p50 / p99 µs | floor p50 / p99 µs | pgbench p50 / p99 µs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
        } else {
            let _ = writeln!(
                s,
                "| operation | c | ours ops/s | floor ops/s | **ours/floor** | ours p50 / p99 µs | floor p50 / p99 µs |\n|---|---:|---:|---:|---:|---:|---:|"
            );
        }
        for r in rows {
            let note = invalid_note(r);
            let err = note.as_ref().map(|n| format!(" ⚠ {n}")).unwrap_or_default();
            let rt = |k: &str| {
                if note.is_some() {
                    "invalid".to_owned()
                } else {
                    ratio(&r[k])
                }
            };
            let lat = |k: &str| {
                if r[format!("{k}p50_us")].is_null() {
                    "–".to_owned()
                } else {
                    format!(
                        "{} / {}",
                        int(&r[format!("{k}p50_us")]),
                        int(&r[format!("{k}p99_us")])
                    )
                }
            };
            if pg {
                let _ = writeln!(
                    s,
                    "| {}{err} | {} | {} | {} | {} | **{}** | {} | {} | **{}** | **{}** | {} | {} | {} | {} |",
                    r["operation"].as_str().unwrap_or(""),
                    r["concurrency"],
                    int(&r["ours_ops"]),
                    int(&r["unshared_ops"]),
                    int(&r["floor_ops"]),
                    rt("ratio"),
                    rt("ratio_unshared"),
                    int(&r["pgbench_ops"]),
                    rt("ratio_vs_pgbench"),
                    rt("ratio_unshared_vs_pgbench"),
                    lat(""),
                    lat("unshared_"),
                    lat("floor_"),
                    lat("pgbench_"),
                );
            } else {
                let _ = writeln!(
                    s,
                    "| {}{err} | {} | {} | {} | **{}** | {} | {} |",
                    r["operation"].as_str().unwrap_or(""),
                    r["concurrency"],
                    int(&r["ours_ops"]),
                    int(&r["floor_ops"]),
                    rt("ratio"),
                    lat(""),
                    lat("floor_"),
                );
            }
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "delete_10k_expired_sessions: ops/s = 10,000-row cleanups per second (rows deleted / 10,000 / seconds); \
         at c=8, eight calls run at once over 80,000 expired rows.\n"
    );

    let _ = writeln!(s, "### Targets (issue 7)\n");
    s.push_str(&targets(doc));
    let _ = writeln!(s);

    let _ = writeln!(s, "### Scale: latency at each data-set size (c=1)\n");
    let _ = writeln!(
        s,
        "| backend | operation | users & sessions | ours ops/s | ours p50 / p99 µs | floor p50 / p99 µs |\n|---|---|---:|---:|---:|---:|"
    );
    for r in doc["scale"].as_array().cloned().unwrap_or_default() {
        let _ = writeln!(
            s,
            "| {} | {}{} | {} | {} | {} / {} | {} / {} |",
            r["backend"].as_str().unwrap_or(""),
            r["operation"].as_str().unwrap_or(""),
            invalid_note(&r)
                .map(|n| format!(" ⚠ {n}"))
                .unwrap_or_default(),
            r["users_label"].as_str().unwrap_or(""),
            int(&r["ours_ops"]),
            int(&r["p50_us"]),
            int(&r["p99_us"]),
            int(&r["floor_p50_us"]),
            int(&r["floor_p99_us"]),
        );
    }
    // Growth p50 big / small.
    let scale = doc["scale"].as_array().cloned().unwrap_or_default();
    let mut growth = String::new();
    for r in &scale {
        if r["users"].as_u64().unwrap_or(0) < 1_000_000 {
            continue;
        }
        if let Some(small) = scale.iter().find(|x| {
            x["backend"] == r["backend"]
                && x["operation"] == r["operation"]
                && x["users"].as_u64().unwrap_or(0) < 1_000_000
        }) {
            let g = r["p50_us"].as_f64().unwrap_or(0.0)
                / small["p50_us"].as_f64().unwrap_or(1.0).max(1.0);
            let _ = writeln!(
                growth,
                "| {} | {} | {} → {} µs | **{:.2}×** | {} |",
                r["backend"].as_str().unwrap_or(""),
                r["operation"].as_str().unwrap_or(""),
                int(&small["p50_us"]),
                int(&r["p50_us"]),
                g,
                if g <= 1.5 {
                    "within 1.5×"
                } else {
                    "**over 1.5×**"
                }
            );
        }
    }
    if !growth.is_empty() {
        let _ = writeln!(
            s,
            "\n| backend | operation | p50 at {} → at 1M | growth | |\n|---|---|---:|---:|---|\n{growth}",
            scale
                .iter()
                .find(|x| x["users"].as_u64().unwrap_or(0) < 1_000_000)
                .and_then(|x| x["users_label"].as_str())
                .unwrap_or("small"),
        );
    }

    let _ = writeln!(s, "\n### Query plans\n");
    let plans = doc["plans"].as_array().cloned().unwrap_or_default();
    let biggest = plans
        .iter()
        .filter_map(|p| p["users"].as_u64())
        .max()
        .unwrap_or(0);
    for b in BACKENDS {
        let mine: Vec<&Value> = plans
            .iter()
            .filter(|p| p["backend"] == b && p["users"].as_u64() == Some(biggest))
            .collect();
        plan_details(&mut s, b, "users and sessions", &mine);
    }

    let _ = writeln!(s, "### Statements and round trips per operation\n");
    let _ = writeln!(
        s,
        "| backend | operation | ours statements | ours round trips | floor statements | floor round trips | how counted |\n|---|---|---:|---:|---:|---:|---|"
    );
    for r in doc["round_trips"].as_array().cloned().unwrap_or_default() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r["backend"].as_str().unwrap_or(""),
            r["operation"].as_str().unwrap_or(""),
            f(&r["ours_statements"], 1),
            f(&r["ours_round_trips"], 1),
            f(&r["floor_statements"], 1),
            f(&r["floor_round_trips"], 1),
            r["counted"].as_str().unwrap_or(""),
        );
    }

    let _ = writeln!(
        s,
        "\n### Memory: allocations per call at c=1\n\n\
         Counted by the bench binary's global allocator (the system allocator, counting) \
         over 500 calls of each side after 500 uncounted ones: everything the process \
         allocates meanwhile (driver connection tasks, runtime), alike for both sides. \
         SQLite's own page cache and statements use SQLite's allocator and are not counted.\n"
    );
    let _ = writeln!(
        s,
        "| backend | operation | ours allocations / call | floor allocations / call | ours bytes / call | floor bytes / call |\n|---|---|---:|---:|---:|---:|"
    );
    for r in doc["memory"].as_array().cloned().unwrap_or_default() {
        if r["ours_allocs_per_call"].is_null() {
            continue;
        }
        let bad = r["ours_errors"].as_u64().unwrap_or(0) + r["floor_errors"].as_u64().unwrap_or(0);
        let _ = writeln!(
            s,
            "| {} | {}{} | {} | {} | {} | {} |",
            r["backend"].as_str().unwrap_or(""),
            r["operation"].as_str().unwrap_or(""),
            if bad > 0 {
                format!(" ⚠ invalid: {bad} failed calls")
            } else {
                String::new()
            },
            f(&r["ours_allocs_per_call"], 1),
            f(&r["floor_allocs_per_call"], 1),
            int(&r["ours_bytes_per_call"]),
            int(&r["floor_bytes_per_call"]),
        );
    }

    let _ = writeln!(s, "\n### The SQL measured\n");
    for b in BACKENDS {
        let bk = &doc["backends"][b];
        if bk.is_null() {
            continue;
        }
        let same = bk["verification"]
            .as_array()
            .map(|a| a.iter().all(|v| v["same_statements_and_values"] == true))
            .unwrap_or(false);
        let _ = writeln!(
            s,
            "<details><summary>{b}: statements per operation (floor sends the same statements and values: {})</summary>\n",
            if same { "verified" } else { "NOT verified" }
        );
        if let Some(m) = bk["sql"].as_object() {
            for (op, stmts) in m {
                let _ = writeln!(s, "{op}:\n```sql");
                for st in stmts.as_array().cloned().unwrap_or_default() {
                    let _ = writeln!(s, "{}", st.as_str().unwrap_or(""));
                }
                let _ = writeln!(s, "```");
            }
        }
        let _ = writeln!(s, "</details>\n");
    }
    let _ = writeln!(s, "{END}");
    s
}

/// Replaces the block between `begin` and `end` in `old`; without one, inserts it
/// before the line `before` if present, else appends it.
fn splice(old: &str, begin: &str, end: &str, block: &str, before: Option<&str>) -> String {
    match (old.find(begin), old.find(end)) {
        (Some(a), Some(b)) if b > a => {
            format!("{}{}{}", &old[..a], block.trim_end(), &old[b + end.len()..])
        }
        _ => match before.and_then(|m| old.find(m)) {
            Some(i) => format!("{}{}\n\n{}", &old[..i], block.trim_end(), &old[i..]),
            None => format!("{}\n\n{}", old.trim_end(), block),
        },
    }
}

/// Replaces the generated block of `path` (or writes the file with only that block).
pub fn write_markdown(path: &Path, doc: &Value) -> std::io::Result<()> {
    let block = markdown(doc);
    let text = match std::fs::read_to_string(path) {
        Ok(old) => splice(&old, BEGIN, END, &block, None),
        Err(_) => format!("# Benchmarks\n\n{block}"),
    };
    std::fs::write(path, text)
}

/// The phase-2 operations' names.
const P2_OPS: [&str; 10] = [
    "get_user",
    "list_users_by_email",
    "list_users_page_100",
    "search_email_tag_page",
    "search_phone_tag_page",
    "search_provider_tag_page",
    "count_active_since_7d",
    "count_active_by_day_30d",
    "count_active_many_methods_or_totp_7d",
    "count_users_many_methods",
];

/// Whether `doc` holds phase-2 results.
pub fn is_phase2(doc: &Value) -> bool {
    doc["scale"]
        .as_array()
        .is_some_and(|a| a.iter().any(|r| r["operation"] == "get_user"))
}

/// Renders the generated phase-2 block: machine and runs, each backend's table of
/// the phase-2 cells (unrounded ratios, truncated to 4 decimals; a cell with a failed
/// call on either side is invalid), and the plans at the largest size.
pub fn phase2_markdown(doc: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{P2_BEGIN}\n");
    s.push_str(&runs_list(doc));
    let _ = writeln!(
        s,
        "\nc=1, ours and the floor (the statements and values the storage sent for the \
         same input, replayed on the bare driver) alternating in rounds. Ratios are of the \
         unrounded rates, truncated to 4 decimals; a cell where either side had a failed \
         call is invalid.\n"
    );
    let scale = doc["scale"].as_array().cloned().unwrap_or_default();
    for b in BACKENDS {
        let rows: Vec<&Value> = scale
            .iter()
            .filter(|r| {
                r["backend"] == b && P2_OPS.contains(&r["operation"].as_str().unwrap_or(""))
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let load: Vec<String> = doc["backends"][b]["load_seconds"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{} {} s", k.replace('_', " "), f(v, 0)))
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(s, "**{b}** (load: {})\n", load.join(", "));
        let _ = writeln!(
            s,
            "| operation | users | ours ops/s | floor ops/s | ours / floor | ours p50 / p99 µs | floor p50 / p99 µs | p50 1M / 10k |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &rows {
            let note = invalid_note(r);
            let small = rows.iter().find(|x| {
                x["operation"] == r["operation"]
                    && x["users"].as_u64().unwrap_or(0) < r["users"].as_u64().unwrap_or(0)
            });
            let growth = match small {
                Some(x) if r["users"].as_u64().unwrap_or(0) >= 1_000_000 => {
                    let a = x["p50_us"].as_f64().unwrap_or(0.0).max(1.0);
                    format!("{:.2}", r["p50_us"].as_f64().unwrap_or(0.0) / a)
                }
                _ => String::new(),
            };
            let or = r["ours_ops"].as_f64().unwrap_or(0.0);
            let fr = r["floor_ops"].as_f64().unwrap_or(0.0);
            let rt = if note.is_some() {
                "invalid".to_owned()
            } else if let Some(x) = r["ratio"].as_f64() {
                show_trunc(x)
            } else if fr > 0.0 {
                show_trunc(or / fr)
            } else {
                "–".to_owned()
            };
            let _ = writeln!(
                s,
                "| {}{} | {} | {:.1} | {:.1} | {rt} | {} / {} | {} / {} | {growth} |",
                r["operation"].as_str().unwrap_or(""),
                note.map(|n| format!(" ⚠ {n}")).unwrap_or_default(),
                r["users_label"].as_str().unwrap_or(""),
                or,
                fr,
                int(&r["p50_us"]),
                int(&r["p99_us"]),
                int(&r["floor_p50_us"]),
                int(&r["floor_p99_us"]),
            );
        }
        let _ = writeln!(s);
    }
    let plans = doc["plans"].as_array().cloned().unwrap_or_default();
    let biggest = plans
        .iter()
        .filter_map(|p| p["users"].as_u64())
        .max()
        .unwrap_or(0);
    for b in BACKENDS {
        let mine: Vec<&Value> = plans
            .iter()
            .filter(|p| {
                p["backend"] == b
                    && p["users"].as_u64() == Some(biggest)
                    && P2_OPS.contains(&p["operation"].as_str().unwrap_or(""))
            })
            .collect();
        plan_details(&mut s, b, "users", &mine);
    }
    let _ = writeln!(s, "{P2_END}");
    s
}

/// Replaces the generated phase-2 block of `path` (new: at the end of the phase-2
/// section, before `<!-- PHASE2 END -->`, if the file has one).
pub fn write_phase2_markdown(path: &Path, doc: &Value) -> std::io::Result<()> {
    let block = phase2_markdown(doc);
    let text = match std::fs::read_to_string(path) {
        Ok(old) => splice(&old, P2_BEGIN, P2_END, &block, Some(P2_SECTION_END)),
        Err(_) => format!("# Benchmarks\n\n{block}"),
    };
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> Value {
        let mut r = json!({
            "backend": "postgresql", "operation": "rotate_refresh_token", "concurrency": 8,
            "ours_ops": 5237.6, "floor_ops": 5820.1, "ratio": 5237.6 / 5820.1,
            "errors": 0, "floor_errors": 0,
        });
        for (k, x) in v.as_object().cloned().unwrap_or_default() {
            r[k] = x;
        }
        r
    }

    #[test]
    fn verdict_is_on_the_unrounded_ratio() {
        // 5237.6 / 5820.1 = 0.89992: rounded to 3 decimals it read 0.900, "met".
        let r = row(json!({}));
        assert_eq!(judge(&r, r["ratio"].as_f64(), 0.9), Verdict::Missed);
        assert_eq!(judge(&r, Some(0.9), 0.9), Verdict::Met);
        let doc = json!({ "results": [r] });
        let t = targets(&doc);
        assert!(t.contains("| 0.8999 | ≥ 0.9 | **missed** |"), "{t}");
    }

    #[test]
    fn shown_ratios_never_contradict_the_verdict() {
        assert_eq!(show_vs(0.89992, 0.9), "0.8999");
        assert_eq!(show_vs(0.899996, 0.9), "0.8999");
        assert_eq!(show_vs(0.9, 0.9), "0.9000");
        assert_eq!(show_vs(0.89996, 0.89995), "0.89996");
        assert_eq!(show_trunc(0.899996), "0.8999");
        assert_eq!(show_trunc(0.9), "0.9000");
        assert_eq!(show_trunc(1.23456), "1.2345");
    }

    #[test]
    fn a_failed_call_on_any_side_invalidates_the_cell() {
        for side in [
            "errors",
            "unshared_errors",
            "floor_errors",
            "pgbench_errors",
        ] {
            let r = row(json!({ "ratio": 1.5, side: 2 }));
            match judge(&r, Some(1.5), 0.9) {
                Verdict::Invalid(why) => assert!(why.contains("2 failed calls"), "{why}"),
                v => panic!("{side}: {v:?}"),
            }
            let doc = json!({ "results": [r.clone()] });
            let md = markdown(&doc);
            assert!(md.contains("⚠ invalid: 2 failed calls"), "{side}: {md}");
            assert!(!md.contains("1.5000"), "{side}: a ratio shown: {md}");
        }
        // Phase 2: either side of a scale cell.
        for side in ["errors", "floor_errors"] {
            let r = json!({ "backend": "sqlite", "operation": "get_user", "users": 10000,
                "users_label": "10k", "ours_ops": 10.0, "floor_ops": 10.0, "ratio": 1.0,
                side: 1 });
            let md = phase2_markdown(&json!({ "scale": [r] }));
            assert!(md.contains("⚠ invalid: 1 failed calls"), "{side}: {md}");
            assert!(!md.contains("1.0000"), "{side}: {md}");
        }
    }

    #[test]
    fn pg_reads_are_judged_on_the_unshared_storage() {
        let r = row(json!({ "operation": "get_session", "ratio_vs_pgbench": 1.6,
            "ratio_unshared_vs_pgbench": 0.75, "unshared_errors": 0, "pgbench_errors": 0 }));
        let t = targets(&json!({ "results": [r] }));
        assert!(
            t.contains("| unshared (`pipeline_depth=1`) / pgbench | 0.7500 | ≥ 0.8 | **missed** | ours / pgbench 1.6000 (pipelined over shared connections) |"),
            "{t}"
        );
        // Without an unshared side, nothing is judged.
        let r = row(json!({ "operation": "get_session", "ratio_vs_pgbench": 1.6 }));
        let t = targets(&json!({ "results": [r] }));
        assert!(t.contains("**not measured in this run**"), "{t}");
    }

    #[test]
    fn runs_name_their_commit_and_say_dirty() {
        let run = |dirty: bool| {
            json!({ "backends": { "sqlite": { "run": { "command": "x", "host": "h",
                "commit": { "short": "abc1234", "full": "abc1234ffff", "date": "2026-12-01",
                    "dirty": dirty, "dirty_files": ["bench/src/bench.rs"] } } } } })
        };
        let clean = runs_list(&run(false));
        assert!(
            clean.contains(
                "commit `abc1234` (`abc1234ffff`, committed 2026-12-01) (clean work tree)"
            ),
            "{clean}"
        );
        let dirty = runs_list(&run(true));
        assert!(dirty.contains("**DIRTY WORK TREE"), "{dirty}");
        assert!(phase2_markdown(&run(true)).contains("**DIRTY WORK TREE"));
    }

    #[test]
    fn phase2_block_goes_into_the_phase2_section_then_stays_in_place() {
        let doc = json!({ "scale": [] });
        let old = "a\n<!-- PHASE2 BEGIN -->\ntext\n<!-- PHASE2 END -->\nb\n";
        let once = splice(
            old,
            P2_BEGIN,
            P2_END,
            &phase2_markdown(&doc),
            Some(P2_SECTION_END),
        );
        assert!(
            once.find(P2_END).unwrap() < once.find(P2_SECTION_END).unwrap(),
            "{once}"
        );
        let twice = splice(
            &once,
            P2_BEGIN,
            P2_END,
            &phase2_markdown(&doc),
            Some(P2_SECTION_END),
        );
        assert_eq!(once, twice);
    }
}
