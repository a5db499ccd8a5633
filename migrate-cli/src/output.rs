//! Where output goes: human lines (streamed as they happen) or one JSON document,
//! with every known password replaced by `***` on the way out.

use serde_json::{Map, Value};
use std::io::Write;
use std::time::Duration;
use storage_api::ConnectionUri;

/// The two output streams and what to hide in them.
pub struct Out<'a> {
    out: &'a mut (dyn Write + Send),
    err: &'a mut (dyn Write + Send),
    /// JSON mode: nothing is printed until [`Out::finish_json`].
    pub json: bool,
    /// Dry-run: informational lines are SQL comments so stdout is a runnable script.
    pub dry_run: bool,
    /// Passwords (as given and percent-encoded) that must never be printed.
    secrets: Vec<String>,
    /// The JSON document being built.
    pub doc: Map<String, Value>,
}

impl<'a> Out<'a> {
    /// Output to `out` and `err`.
    pub fn new(
        out: &'a mut (dyn Write + Send),
        err: &'a mut (dyn Write + Send),
        json: bool,
    ) -> Self {
        Self {
            out,
            err,
            json,
            dry_run: false,
            secrets: Vec::new(),
            doc: Map::new(),
        }
    }

    /// Hides `uri`'s password from everything printed from now on: the one in its
    /// user info and any query parameter named like `password` (`?password=`,
    /// `sslpassword=`), which `ConnectionUri::redacted` keeps.
    pub fn add_secret(&mut self, uri: &ConnectionUri) {
        let mut found: Vec<String> = uri.password.iter().map(|p| p.expose().to_owned()).collect();
        found.extend(
            uri.query
                .iter()
                .filter(|(k, _)| k.to_ascii_lowercase().contains("password"))
                .map(|(_, v)| v.clone()),
        );
        for secret in found.into_iter().filter(|s| !s.is_empty()) {
            for form in [pct_encode(&secret), secret] {
                if !self.secrets.contains(&form) {
                    self.secrets.push(form);
                }
            }
        }
        // Longest first, so that a password containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Whether `uri` carries anything [`Out::add_secret`] would hide.
    pub fn has_secret(uri: &ConnectionUri) -> bool {
        uri.password.is_some()
            || uri
                .query
                .iter()
                .any(|(k, _)| k.to_ascii_lowercase().contains("password"))
    }

    /// `text` with every known password replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_owned(), |t, secret| {
            t.replace(secret.as_str(), "***")
        })
    }

    fn scrub_value(&self, v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.scrub(&s)),
            Value::Array(a) => Value::Array(a.into_iter().map(|v| self.scrub_value(v)).collect()),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (self.scrub(&k), self.scrub_value(v)))
                    .collect(),
            ),
            v => v,
        }
    }

    /// An informational line on stdout (text mode only); a SQL comment in dry-run.
    pub fn info(&mut self, line: &str) {
        if self.json {
            return;
        }
        let text = if self.dry_run {
            line.lines()
                .map(|l| {
                    if l.is_empty() {
                        "--".to_owned()
                    } else {
                        format!("-- {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            line.to_owned()
        };
        let text = self.scrub(&text);
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// A line of SQL on stdout, as is (text mode only).
    pub fn sql(&mut self, statement: &str) {
        if self.json {
            return;
        }
        let text = self.scrub(statement);
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// A line on stderr (text mode only).
    pub fn error_line(&mut self, line: &str) {
        if self.json {
            return;
        }
        let text = self.scrub(line);
        let _ = writeln!(self.err, "{text}");
        let _ = self.err.flush();
    }

    /// Sets a field of the JSON document.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.doc.insert(key.to_owned(), value.into());
    }

    /// Prints the JSON document (JSON mode only), scrubbed, as one line.
    pub fn finish_json(&mut self) {
        if !self.json {
            return;
        }
        let doc = Value::Object(std::mem::take(&mut self.doc));
        let doc = self.scrub_value(doc);
        let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned());
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// Writes raw text to stdout or stderr, scrubbed (for clap's help and errors).
    pub fn raw(&mut self, to_stderr: bool, text: &str) {
        let text = self.scrub(text);
        let w: &mut (dyn Write + Send) = if to_stderr { self.err } else { self.out };
        let _ = write!(w, "{text}");
        if !text.ends_with('\n') {
            let _ = writeln!(w);
        }
        let _ = w.flush();
    }
}

/// Percent-encodes like `ConnectionUri` does, so the encoded form of a password
/// (as it appears in a printed URI) is hidden too.
fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A duration for people: `412 ms`, `3.20 s`, `2 min 5 s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `n thing` or `n things`.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(1_709_210_096_000), "2024-02-29 12:34:56 UTC");
        assert_eq!(human_duration(Duration::from_millis(412)), "412 ms");
        assert_eq!(human_duration(Duration::from_millis(3200)), "3.20 s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2 min 5 s");
    }

    #[test]
    fn scrubs_everything() {
        let mut out_buf = Vec::new();
        let mut err_buf = Vec::new();
        let mut out = Out::new(&mut out_buf, &mut err_buf, true);
        out.add_secret(&ConnectionUri::parse("mysql://u:p%22w%5C@h/db").unwrap());
        out.add_secret(
            &ConnectionUri::parse("postgres://h/db?sslmode=require&password=hunter2").unwrap(),
        );
        out.set("error", "failed with p\"w\\ inside");
        out.set(
            "uri",
            "postgres://h/db?sslmode=require&password=hunter2 and p%22w%5C",
        );
        out.finish_json();
        let text = String::from_utf8(out_buf).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"], "failed with *** inside");
        assert_eq!(
            v["uri"],
            "postgres://h/db?sslmode=require&password=*** and ***"
        );
    }
}
