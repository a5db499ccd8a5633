//! Settings, read from the environment with the names and defaults of SuperTokens'
//! docker image (upper-cased `config.yaml` keys).

use std::fmt;

/// Which algorithm hashes new passwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    /// bcrypt (`$2b$`), the default.
    Bcrypt,
    /// argon2id.
    Argon2,
}

/// The core's settings.
#[derive(Clone)]
pub struct Config {
    /// `API_KEYS`: accepted api keys; empty means no check.
    pub api_keys: Vec<String>,
    /// `ACCESS_TOKEN_VALIDITY` in seconds (3600).
    pub access_token_validity_s: i64,
    /// `REFRESH_TOKEN_VALIDITY` in minutes (144000).
    pub refresh_token_validity_min: i64,
    /// `ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL` in hours (168).
    pub signing_key_interval_h: i64,
    /// `PASSWORD_RESET_TOKEN_LIFETIME` in ms (3600000).
    pub password_reset_token_lifetime_ms: i64,
    /// `EMAIL_VERIFICATION_TOKEN_LIFETIME` in ms (86400000).
    pub email_verification_token_lifetime_ms: i64,
    /// `PASSWORDLESS_CODE_LIFETIME` in ms (900000).
    pub passwordless_code_lifetime_ms: i64,
    /// `PASSWORDLESS_MAX_CODE_INPUT_ATTEMPTS` (5).
    pub passwordless_max_code_input_attempts: u32,
    /// `PASSWORD_HASHING_ALG`: `BCRYPT` (default) or `ARGON2`.
    pub password_hashing_alg: HashAlg,
    /// `BCRYPT_LOG_ROUNDS` (11).
    pub bcrypt_log_rounds: u32,
    /// `ARGON2_ITERATIONS` (1).
    pub argon2_iterations: u32,
    /// `ARGON2_MEMORY_KB` (87795).
    pub argon2_memory_kb: u32,
    /// `ARGON2_PARALLELISM` (2).
    pub argon2_parallelism: u32,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("api_keys", &format_args!("{} key(s)", self.api_keys.len()))
            .field("access_token_validity_s", &self.access_token_validity_s)
            .field(
                "refresh_token_validity_min",
                &self.refresh_token_validity_min,
            )
            .field("signing_key_interval_h", &self.signing_key_interval_h)
            .field("password_hashing_alg", &self.password_hashing_alg)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            api_keys: Vec::new(),
            access_token_validity_s: 3600,
            refresh_token_validity_min: 144_000,
            signing_key_interval_h: 168,
            password_reset_token_lifetime_ms: 3_600_000,
            email_verification_token_lifetime_ms: 86_400_000,
            passwordless_code_lifetime_ms: 900_000,
            passwordless_max_code_input_attempts: 5,
            password_hashing_alg: HashAlg::Bcrypt,
            bcrypt_log_rounds: 11,
            argon2_iterations: 1,
            argon2_memory_kb: 87_795,
            argon2_parallelism: 2,
        }
    }
}

fn num<T: std::str::FromStr>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, String> {
    match get(name) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a number, got `{v}`")),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (a variable name to its value), validating them.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let d = Config::default();
        let api_keys: Vec<String> = get("API_KEYS")
            .unwrap_or_default()
            .split(',')
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        for k in &api_keys {
            if k.len() < 20
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '=' || c == '-')
            {
                return Err(
                    "API_KEYS: each key must be at least 20 characters of [A-Za-z0-9=-]".into(),
                );
            }
        }
        let password_hashing_alg = match get("PASSWORD_HASHING_ALG")
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "" | "BCRYPT" => HashAlg::Bcrypt,
            "ARGON2" => HashAlg::Argon2,
            other => {
                return Err(format!(
                    "PASSWORD_HASHING_ALG must be BCRYPT or ARGON2, got `{other}`"
                ));
            }
        };
        let c = Config {
            api_keys,
            access_token_validity_s: num(get, "ACCESS_TOKEN_VALIDITY", d.access_token_validity_s)?,
            refresh_token_validity_min: num(
                get,
                "REFRESH_TOKEN_VALIDITY",
                d.refresh_token_validity_min,
            )?,
            signing_key_interval_h: num(
                get,
                "ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL",
                d.signing_key_interval_h,
            )?,
            password_reset_token_lifetime_ms: num(
                get,
                "PASSWORD_RESET_TOKEN_LIFETIME",
                d.password_reset_token_lifetime_ms,
            )?,
            email_verification_token_lifetime_ms: num(
                get,
                "EMAIL_VERIFICATION_TOKEN_LIFETIME",
                d.email_verification_token_lifetime_ms,
            )?,
            passwordless_code_lifetime_ms: num(
                get,
                "PASSWORDLESS_CODE_LIFETIME",
                d.passwordless_code_lifetime_ms,
            )?,
            passwordless_max_code_input_attempts: num(
                get,
                "PASSWORDLESS_MAX_CODE_INPUT_ATTEMPTS",
                d.passwordless_max_code_input_attempts,
            )?,
            password_hashing_alg,
            bcrypt_log_rounds: num(get, "BCRYPT_LOG_ROUNDS", d.bcrypt_log_rounds)?,
            argon2_iterations: num(get, "ARGON2_ITERATIONS", d.argon2_iterations)?,
            argon2_memory_kb: num(get, "ARGON2_MEMORY_KB", d.argon2_memory_kb)?,
            argon2_parallelism: num(get, "ARGON2_PARALLELISM", d.argon2_parallelism)?,
        };
        if !(1..=86_400_000).contains(&c.access_token_validity_s) {
            return Err("ACCESS_TOKEN_VALIDITY must be between 1 and 86400000 seconds".into());
        }
        if c.refresh_token_validity_min * 60 <= c.access_token_validity_s {
            return Err("REFRESH_TOKEN_VALIDITY must be longer than ACCESS_TOKEN_VALIDITY".into());
        }
        if c.signing_key_interval_h < 1 {
            return Err(
                "ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL must be at least 1 hour".into(),
            );
        }
        if !(4..=31).contains(&c.bcrypt_log_rounds) {
            return Err("BCRYPT_LOG_ROUNDS must be between 4 and 31".into());
        }
        Ok(c)
    }

    /// Access-token validity in ms.
    pub fn access_validity_ms(&self) -> i64 {
        self.access_token_validity_s * 1000
    }

    /// Refresh-token (session) validity in ms.
    pub fn refresh_validity_ms(&self) -> i64 {
        self.refresh_token_validity_min * 60_000
    }

    /// Dynamic signing-key rotation interval in ms.
    pub fn key_interval_ms(&self) -> i64 {
        self.signing_key_interval_h * 3_600_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_lookup(&|_| None).unwrap();
        assert_eq!(c.access_token_validity_s, 3600);
        assert_eq!(c.refresh_validity_ms(), 144_000 * 60_000);
        assert_eq!(c.bcrypt_log_rounds, 11);
        let c = Config::from_lookup(&|k| match k {
            "ACCESS_TOKEN_VALIDITY" => Some("10".into()),
            "API_KEYS" => Some("aaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbbb".into()),
            "PASSWORD_HASHING_ALG" => Some("argon2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.access_token_validity_s, 10);
        assert_eq!(c.api_keys.len(), 2);
        assert_eq!(c.password_hashing_alg, HashAlg::Argon2);
        assert!(!format!("{c:?}").contains("aaaa"));
        assert!(Config::from_lookup(&|k| (k == "API_KEYS").then(|| "short".into())).is_err());
        assert!(
            Config::from_lookup(&|k| (k == "ACCESS_TOKEN_VALIDITY").then(|| "x".into())).is_err()
        );
    }
}
