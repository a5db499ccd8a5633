//! `bench/results/latest.json` and the generated part of `BENCHMARKS.md`.

use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

/// Start and end markers of the generated block in `BENCHMARKS.md`.
pub const BEGIN: &str = "<!-- BEGIN GENERATED (cargo run --release -p storage-bench) -->";
/// End marker.
pub const END: &str = "<!-- END GENERATED -->";

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

fn ratio(v: &Value) -> String {
    f(v, 2)
}

fn ok(b: bool) -> &'static str {
    if b { "**met**" } else { "**missed**" }
}

/// The targets of issue 7, evaluated.
fn targets(doc: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| backend | operation | c | measured | target | |\n|---|---|---:|---:|---:|---|"
    );
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    for r in &results {
        let b = r["backend"].as_str().unwrap_or("");
        let op = r["operation"].as_str().unwrap_or("");
        let c = r["concurrency"].as_u64().unwrap_or(0);
        let read = matches!(op, "get_session" | "list_users_by_email");
        let (what, value, target) = match b {
            "postgresql" if c == 8 && read => {
                ("ours / pgbench", r["ratio_vs_pgbench"].as_f64(), 0.8)
            }
            "postgresql" if c == 8 => ("ours / floor", r["ratio"].as_f64(), 0.9),
            "mariadb" => ("ours / floor", r["ratio"].as_f64(), 0.8),
            "sqlite" if read => ("ours / floor", r["ratio"].as_f64(), 0.5),
            "sqlite" => ("ours / floor", r["ratio"].as_f64(), 0.8),
            _ => continue,
        };
        let Some(v) = value else { continue };
        let errors = r["errors"].as_u64().unwrap_or(0) + r["floor_errors"].as_u64().unwrap_or(0);
        if errors > 0 {
            let _ = writeln!(
                s,
                "| {b} | {op} | {c} | {what} {v:.2} | ≥ {target} | not measured: {errors} failed calls |"
            );
            continue;
        }
        let _ = writeln!(
            s,
            "| {b} | {op} | {c} | {what} {v:.2} | ≥ {target} | {} |",
            ok(v >= target)
        );
    }
    s
}

/// Renders the generated block.
pub fn markdown(doc: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}\n");
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
    for b in BACKENDS {
        let r = &doc["backends"][b]["run"];
        if r.is_null() {
            continue;
        }
        let _ = writeln!(
            s,
            "- {b}: `{}` at {} (UTC), load average before {} / after {}, {} s",
            r["command"].as_str().unwrap_or(""),
            r["started"].as_str().unwrap_or(""),
            r["loadavg_before"].as_str().unwrap_or("?"),
            r["loadavg_after"].as_str().unwrap_or("?"),
            f(&r["seconds"], 0)
        );
        let earlier = &doc["backends"][b]["results_from_run"];
        if !earlier.is_null() {
            let _ = writeln!(
                s,
                "  - {b}: the main table comes from an earlier run, `{}` at {} (UTC), load average before {} / after {}",
                earlier["command"].as_str().unwrap_or(""),
                earlier["started"].as_str().unwrap_or(""),
                earlier["loadavg_before"].as_str().unwrap_or("?"),
                earlier["loadavg_after"].as_str().unwrap_or("?"),
            );
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
    let _ = writeln!(
        s,
        "\nEach cell alternates ours and the floor in rounds (and pgbench on PostgreSQL), \
         ops/s over all rounds; latencies are per call. \"floor\" is the same SQL through \
         the bare driver; the bench checks before measuring that each floor sends exactly \
         the statements and values the storage sends.\n"
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
                "| operation | c | ours ops/s | floor ops/s | **ours/floor** | pgbench ops/s | **ours/pgbench** | ours p50 / p99 µs | floor p50 / p99 µs | pgbench p50 / p99 µs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
        } else {
            let _ = writeln!(
                s,
                "| operation | c | ours ops/s | floor ops/s | **ours/floor** | ours p50 / p99 µs | floor p50 / p99 µs |\n|---|---:|---:|---:|---:|---:|---:|"
            );
        }
        for r in rows {
            let err = if r["errors"].as_u64().unwrap_or(0) + r["floor_errors"].as_u64().unwrap_or(0)
                > 0
            {
                format!(
                    " ⚠ {} errors",
                    r["errors"].as_u64().unwrap_or(0) + r["floor_errors"].as_u64().unwrap_or(0)
                )
            } else {
                String::new()
            };
            if pg {
                let _ = writeln!(
                    s,
                    "| {}{err} | {} | {} | {} | **{}** | {} | **{}** | {} / {} | {} / {} | {} / {} |",
                    r["operation"].as_str().unwrap_or(""),
                    r["concurrency"],
                    int(&r["ours_ops"]),
                    int(&r["floor_ops"]),
                    ratio(&r["ratio"]),
                    int(&r["pgbench_ops"]),
                    ratio(&r["ratio_vs_pgbench"]),
                    int(&r["p50_us"]),
                    int(&r["p99_us"]),
                    int(&r["floor_p50_us"]),
                    int(&r["floor_p99_us"]),
                    int(&r["pgbench_p50_us"]),
                    int(&r["pgbench_p99_us"]),
                );
            } else {
                let _ = writeln!(
                    s,
                    "| {}{err} | {} | {} | {} | **{}** | {} / {} | {} / {} |",
                    r["operation"].as_str().unwrap_or(""),
                    r["concurrency"],
                    int(&r["ours_ops"]),
                    int(&r["floor_ops"]),
                    ratio(&r["ratio"]),
                    int(&r["p50_us"]),
                    int(&r["p99_us"]),
                    int(&r["floor_p50_us"]),
                    int(&r["floor_p99_us"]),
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
            "| {} | {} | {} | {} | {} / {} | {} / {} |",
            r["backend"].as_str().unwrap_or(""),
            r["operation"].as_str().unwrap_or(""),
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
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "<details><summary>{b}: plans with {} users and sessions</summary>\n",
            mine[0]["users_label"].as_str().unwrap_or("")
        );
        for p in mine {
            let _ = writeln!(
                s,
                "{}:\n```sql\n{}\n```\n```\n{}\n```\n",
                p["operation"].as_str().unwrap_or(""),
                p["statement"].as_str().unwrap_or(""),
                p["plan"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .map(|l| l.as_str().unwrap_or("").to_owned())
                        .collect::<Vec<_>>()
                        .join("\n"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(s, "</details>\n");
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
        "\n### Memory: peak resident set of the bench process at c=8\n"
    );
    let _ = writeln!(
        s,
        "| backend | RSS before | peak while ours runs | peak while the floor runs |\n|---|---:|---:|---:|"
    );
    for r in doc["memory"].as_array().cloned().unwrap_or_default() {
        let mib = |v: &Value| format!("{:.1} MiB", v.as_f64().unwrap_or(0.0) / 1024.0);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            r["backend"].as_str().unwrap_or(""),
            mib(&r["rss_before_kib"]),
            mib(&r["ours_peak_rss_kib"]),
            mib(&r["floor_peak_rss_kib"]),
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

/// Replaces the generated block of `path` (or writes the file with only that block).
pub fn write_markdown(path: &Path, doc: &Value) -> std::io::Result<()> {
    let block = markdown(doc);
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(BEGIN), old.find(END)) {
            (Some(a), Some(b)) if b > a => {
                format!("{}{}{}", &old[..a], block.trim_end(), &old[b + END.len()..])
            }
            _ => format!("{}\n{}", old.trim_end(), block),
        },
        Err(_) => format!("# Benchmarks\n\n{block}"),
    };
    std::fs::write(path, text)
}
