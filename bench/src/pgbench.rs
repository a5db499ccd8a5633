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

fn header(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::GetSession => "\\set h 1000000000000000000 + random(0, :n - 1)\n",
        Op::Rotate => {
            "\\set h 1000000000000000000 + random(:rot, :n - 1)\n\\set exp 4000000000000 + random(1, 1000000000)\n"
        }
        Op::CreateSession => "\\set h 5100000000000000000 + random(0, 99999999999999999)\n",
        Op::SignUp => {
            "\\set u random(1000000000000000000, 8999999999999999999)\n\\set em random(1000000000000000000, 8999999999999999999)\n"
        }
        Op::ListByEmail => "\\set em 2000000000000000000 + random(0, :n - 1)\n",
        Op::CreateDevice => {
            "\\set dev random(1000000000000000000, 8999999999999999999)\n\\set cid random(1000000000000000000, 8999999999999999999)\n\\set link random(1000000000000000000, 8999999999999999999)\n\\set dem random(1000000000000000000, 8999999999999999999)\n"
        }
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
    let mut s = String::from(h);
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
        if !out.status.success() {
            return Err(format!("pgbench failed: {errtext}{text}"));
        }
        let tps = text
            .lines()
            .find(|l| l.starts_with("tps = "))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("no tps in pgbench output: {text}"))?;
        let failed = text
            .lines()
            .find(|l| l.starts_with("number of failed transactions"))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
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
            first_error: if errtext.trim().is_empty() {
                None
            } else {
                Some(errtext.lines().next().unwrap_or("").to_owned())
            },
            units: 0,
        })
    }
}
