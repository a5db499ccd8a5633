//! Password hashing (cdi.md e): bcrypt by default, argon2id as an option, and
//! verification of every format SuperTokens stores. Hashing runs on tokio's blocking
//! pool, never on the async runtime's threads.

use crate::config::{Config, HashAlg};
use crate::error::ApiError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use storage_api::Secret;

/// The hashing settings taken from the config.
#[derive(Clone, Copy, Debug)]
pub struct HashSettings {
    alg: HashAlg,
    bcrypt_cost: u32,
    m_kb: u32,
    t: u32,
    p: u32,
}

impl From<&Config> for HashSettings {
    fn from(c: &Config) -> Self {
        Self {
            alg: c.password_hashing_alg,
            bcrypt_cost: c.bcrypt_log_rounds,
            m_kb: c.argon2_memory_kb,
            t: c.argon2_iterations,
            p: c.argon2_parallelism,
        }
    }
}

fn hash_now(s: HashSettings, password: &str) -> Result<String, ApiError> {
    match s.alg {
        HashAlg::Bcrypt => bcrypt::hash(password, s.bcrypt_cost)
            .map_err(|e| ApiError::Internal(format!("bcrypt: {e}"))),
        HashAlg::Argon2 => {
            let params = Params::new(s.m_kb, s.t, s.p, Some(32))
                .map_err(|e| ApiError::Internal(format!("argon2 params: {e}")))?;
            let salt = SaltString::encode_b64(&crate::util::random_bytes(16))
                .map_err(|e| ApiError::Internal(format!("argon2 salt: {e}")))?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
        }
    }
}

/// Whether `password` matches `hash` (any bcrypt or argon2 variant); an unknown or
/// malformed hash is `false`.
pub fn verify_now(password: &str, hash: &str) -> bool {
    if hash.starts_with("$2a$")
        || hash.starts_with("$2b$")
        || hash.starts_with("$2x$")
        || hash.starts_with("$2y$")
    {
        bcrypt::verify(password, hash).unwrap_or(false)
    } else if hash.starts_with("$argon2id$")
        || hash.starts_with("$argon2i$")
        || hash.starts_with("$argon2d$")
    {
        PasswordHash::new(hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    } else {
        false
    }
}

/// Hashes a password on the blocking pool.
pub async fn hash(settings: HashSettings, password: String) -> Result<Secret, ApiError> {
    tokio::task::spawn_blocking(move || hash_now(settings, &password).map(Secret::new))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))?
}

/// Verifies a password on the blocking pool.
pub async fn verify(password: String, hash: Secret) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || verify_now(&password, hash.expose()))
        .await
        .map_err(|e| ApiError::Internal(format!("verify task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_verifies() {
        let mut c = Config {
            bcrypt_log_rounds: 4,
            ..Config::default()
        };
        let b = hash_now(HashSettings::from(&c), "pw1").unwrap();
        assert!(b.starts_with("$2b$04$"));
        assert!(verify_now("pw1", &b));
        assert!(!verify_now("pw2", &b));
        for prefix in ["$2a$", "$2x$", "$2y$"] {
            let other = format!("{prefix}{}", &b[4..]);
            assert!(verify_now("pw1", &other), "{prefix}");
        }
        c.password_hashing_alg = HashAlg::Argon2;
        c.argon2_memory_kb = 1024;
        let a = hash_now(HashSettings::from(&c), "pw1").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=1024,t=1,p=2$"), "{a}");
        assert!(verify_now("pw1", &a));
        assert!(!verify_now("nope", &a));
        for alg in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
            let h = Argon2::new(
                alg,
                Version::V0x13,
                Params::new(1024, 1, 1, Some(32)).unwrap(),
            )
            .hash_password(b"pw1", &salt)
            .unwrap()
            .to_string();
            assert!(verify_now("pw1", &h), "{h}");
        }
        // Openwall crypt_blowfish test vectors (the `$2a$` that jBCrypt writes).
        assert!(verify_now(
            "U*U",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        ));
        assert!(verify_now(
            "U*U*",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"
        ));
        assert!(!verify_now("password", "plain"));
    }
}
