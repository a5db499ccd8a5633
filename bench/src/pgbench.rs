//! pgbench as a second floor on PostgreSQL: scripts made from the SQL the storage
//! actually sent (captured), with each `$n` replaced by a pgbench variable, run with
//! `-M prepared`.

use crate::model::*;
use crate::ops::Op;
use crate::raw::{R, Sent};
use crate::run::Sample;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variables of one statement's parameters, in order (`NULL` inlines NULL).
fn vars(op: Op, k: usize) -> &'static [&'static str] {
    match (op, k) {
        (Op::GetSession, 0) => &["app", "tenant", "h"],
        (Op::Rotate, 0) => &["rt", "rt", "now", "exp", "app", "tenant", "h", "rt", "now"],
        (Op::CreateSession, 0) => &[
            "wapp", "tenant", "h", "uid", "rt0", "sd", "far", "now", "jwt", "usk",
        ],
        (Op::SignUp, 0) => &["wapp", "u", "rid", "u", "f", "tj", "tj"],
        (Op::SignUp, 1) => &["wapp", "tenant", "u", "u", "f", "rid", "tj", "tj"],
        (Op::SignUp, 2) => &["wapp", "u", "em", "pw", "tj"],
        (Op::SignUp, 3) => &["wapp", "tenant", "u", "em"],
        (Op::ListByEmail, 0) | (Op::ListByEmail, 1) => &["app", "tenant", "em"],
        (Op::ListByEmail, 2) => &["app", "em", "app", "tenant"],
        (Op::ListByEmail, 3) => &["app", "app", "user_id"],
        (Op::ListByEmail, 4) | (Op::ListByEmail, 5) => &["app", "user_id"],
        (Op::CreateDevice, 0) => &["wapp", "tenant", "dev", "dem", "NULL", "salt", "fa"],
        (Op::CreateDevice, 1) => &["wapp", "tenant", "cid", "dev", "link", "now"],
        _ => &[],
    }
}

/// The key sequence of a writing script: client `c` of `C` takes `base + c`,
/// `base + c + C`, `base + c + 2C`, ... (pgbench keeps a client's variables from one
/// transaction to the next), so that, like ours and the floor (which number their
/// calls from one counter), pgbench inserts increasing keys, in a range `base..` that
/// is fresh for every run (see [`PgBench::base`]).
const SEQ: &str = "\\set k :base + :client_id + :conc * :seq\n\\set seq :seq + 1\n";

fn header(op: Op) -> Option<String> {
    Some(match op {
        Op::GetSession => "\\set h 1000000000000000000 + random(0, :n - 1)\n".to_owned(),
        Op::Rotate => {
            "\\set h 1000000000000000000 + random(:rot, :n - 1)\n\\set exp 4000000000000 + random(1, 1000000000)\n".to_owned()
        }
        // The handle ours makes of call n: NEW_HANDLE0 + n.
        Op::CreateSession => format!("{SEQ}\\set h {NEW_HANDLE0} + :k\n"),
        // Ours: user id `new_user_id(n)` (a UUID-shaped string), email
        // `NEW_EMAIL0 + n`, time joined `T0 + n`; pgbench's user id is the integer
        // `PGBENCH_KEY0 + k` (19 digits).
        Op::SignUp => format!(
            "{SEQ}\\set u {PGBENCH_KEY0} + :k\n\\set em {NEW_EMAIL0} + :k\n\\set tj {T0} + :k\n"
        ),
        Op::ListByEmail => "\\set em 2000000000000000000 + random(0, :n - 1)\n".to_owned(),
        // Ours: device hash, code id and link-code hash made of n (44 digits, a
        // UUID-shaped string, `L` + 43 digits), email `DEVICE_EMAIL0 + n`;
        // pgbench's are the integer `PGBENCH_KEY0 + k` (19 digits).
        Op::CreateDevice => format!(
            "{SEQ}\\set dev {PGBENCH_KEY0} + :k\n\\set cid {PGBENCH_KEY0} + :k\n\\set link {PGBENCH_KEY0} + :k\n\\set dem {DEVICE_EMAIL0} + :k\n"
        ),
        _ => return None,
    })
}

/// The pgbench script of `op` from the statements the storage sent, or `None` for
/// operations pgbench cannot express (consume and delete-expired need a shared
/// queue of rows to consume).
pub fn script(op: Op, sent: &[Sent]) -> R<Option<String>> {
    let Some(h) = header(op) else {
        return Ok(None);
    };
    let mut s = h;
    let mut k = 0;
    for x in sent {
        match x {
            Sent::Begin => s.push_str("BEGIN ISOLATION LEVEL READ COMMITTED;\n"),
            Sent::Commit => s.push_str("COMMIT;\n"),
            Sent::Stmt(sql, values) => {
                let v = vars(op, k);
                if v.len() != values.len() {
                    return Err(format!(
                        "pgbench script of {}: statement {k} has {} parameters, {} variables",
                        op.name(),
                        values.len(),
                        v.len()
                    ));
                }
                let mut line = sql.clone();
                for (i, name) in v.iter().enumerate().rev() {
                    let rep = if *name == "NULL" {
                        "NULL".to_owned()
                    } else {
                        format!(":{name}")
                    };
                    line = line.replace(&format!("${}", i + 1), &rep);
                }
                s.push_str(&line);
                if op == Op::ListByEmail && k == 0 {
                    s.push_str(" \\gset\n");
                } else {
                    s.push_str(";\n");
                }
                k += 1;
            }
        }
    }
    Ok(Some(s))
}

/// Where pgbench runs.
pub struct PgBench {
    /// Socket directory.
    pub host: String,
    /// Database.
    pub db: String,
    /// Users loaded.
    pub users: u64,
    /// Sessions `0..rot` belong to ours and the floor.
    pub rot: u64,
    /// Scratch directory for logs.
    pub scratch: PathBuf,
    /// Where the keys of a writing script start: a range no other run (ours, the
    /// floor or another pgbench run) used.
    pub base: u64,
}

impl PgBench {
    /// Runs `script` with `conc` clients for `secs` seconds.
    pub fn run(&self, script: &Path, conc: usize, secs: u32) -> R<Sample> {
        std::fs::create_dir_all(&self.scratch).map_err(|e| e.to_string())?;
        for f in std::fs::read_dir(&self.scratch).map_err(|e| e.to_string())? {
            let _ = std::fs::remove_file(f.map_err(|e| e.to_string())?.path());
        }
        let prefix = self.scratch.join("pgb");
        let d = |k: &str, v: &str| format!("{k}={v}");
        let jobs = if conc >= 2 { 2 } else { 1 };
        let out = Command::new("pgbench")
            .args(["-n", "-M", "prepared", "-l"])
            .arg(format!("--log-prefix={}", prefix.display()))
            .arg("-f")
            .arg(script)
            .args(["-c", &conc.to_string(), "-j", &jobs.to_string()])
            .args(["-T", &secs.to_string()])
            .args(["-h", &self.host, "-U", "postgres"])
            .args(["-D", &d("n", &self.users.to_string())])
            .args(["-D", &d("rot", &self.rot.to_string())])
            .args(["-D", &d("base", &self.base.to_string())])
            .args(["-D", &d("conc", &conc.to_string()), "-D", "seq=0"])
            .args(["-D", &d("app", APP), "-D", &d("wapp", WAPP)])
            .args(["-D", "tenant=public"])
            .args(["-D", &d("rt", PGBENCH_RT), "-D", &d("rt0", &rt_hash(0))])
            .args(["-D", &d("now", &NOW.to_string())])
            .args(["-D", &d("far", &FAR.to_string())])
            .args(["-D", &d("tj", &T0.to_string())])
            .args(["-D", &d("sd", SESSION_DATA), "-D", &d("jwt", JWT_PAYLOAD)])
            .args(["-D", "usk=false", "-D", "f=false", "-D", "fa=0"])
            .args(["-D", &d("uid", &user_id(0)), "-D", "rid=emailpassword"])
            .args(["-D", &d("pw", PASSWORD_HASH), "-D", &d("salt", SALT)])
            .arg(&self.db)
            .output()
            .map_err(|e| format!("cannot run pgbench: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let errtext = String::from_utf8_lossy(&out.stderr).into_owned();
        let Some(tps) = text
            .lines()
            .find(|l| l.starts_with("tps = "))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse::<f64>().ok())
        else {
            return Err(format!("pgbench failed: {errtext}{text}"));
        };
        // A client that meets an error is aborted (pgbench 15 counts only retried
        // serialization failures and deadlocks as failed transactions): either makes
        // the run's numbers invalid.
        let failed = failures(&text, &errtext, out.status.success());
        let mut lat = Vec::new();
        for f in std::fs::read_dir(&self.scratch).map_err(|e| e.to_string())? {
            let p = f.map_err(|e| e.to_string())?.path();
            let body = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
            for line in body.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<u32>().ok())
                {
                    lat.push(us);
                }
            }
        }
        let ops = lat.len() as u64;
        Ok(Sample {
            ops,
            secs: if tps > 0.0 { ops as f64 / tps } else { 0.0 },
            lat_us: lat,
            errors: failed,
            first_error: errtext
                .lines()
                .find(|l| is_error_line(l))
                .map(str::to_owned),
            units: 0,
        })
    }
}

fn is_error_line(l: &str) -> bool {
    let l = l.to_ascii_lowercase();
    l.contains("error") || l.contains("aborted") || l.contains("fatal")
}

/// Failed calls of a pgbench run: its `number of failed transactions`, and at least
/// one more per error line on stderr (an aborted client) or when pgbench exited with
/// a failure status.
pub fn failures(stdout: &str, stderr: &str, success: bool) -> u64 {
    let failed = stdout
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let errors = stderr.lines().filter(|l| is_error_line(l)).count() as u64;
    let status = u64::from(!success && errors == 0);
    failed + errors + status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_failed_transactions_errors_and_status() {
        let ok = "tps = 100.0 (without initial connection time)\nnumber of failed transactions: 0 (0.000%)\n";
        assert_eq!(failures(ok, "", true), 0);
        let failed = "number of failed transactions: 3 (0.100%)\ntps = 100.0\n";
        assert_eq!(failures(failed, "", true), 3);
        // pgbench 15 when a statement fails: the client is aborted, the count stays 0.
        let aborted = "pgbench: error: client 0 script 0 aborted in command 2 query 0: ERROR:  duplicate key value violates unique constraint \"session_info_pkey\"\npgbench: error: Run was aborted; the above results are incomplete.\n";
        assert_eq!(failures(ok, aborted, false), 2);
        assert_eq!(failures(ok, "", false), 1);
    }

    #[test]
    fn writing_scripts_take_increasing_keys() {
        for op in [Op::CreateSession, Op::SignUp, Op::CreateDevice] {
            let h = header(op).expect("a script");
            assert!(h.starts_with(SEQ), "{h}");
            assert!(!h.contains("random"), "{}: {h}", op.name());
        }
    }
}
