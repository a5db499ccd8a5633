//! Identifiers and their normalisation (contract section 2).

use crate::error::{Result, StorageError};
use crate::validate;
use std::fmt;

/// Maximum length of an app or tenant id, in characters.
pub const MAX_ID_LEN: usize = 64;

fn normalise(field: &'static str, raw: &str) -> Result<String> {
    let id = raw.trim().to_lowercase();
    let id = if id.is_empty() {
        "public".to_owned()
    } else {
        id
    };
    validate::text(field, &id, MAX_ID_LEN)?;
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(StorageError::invalid(
            field,
            "only ASCII letters, digits, '-' and '_' are allowed",
        ));
    }
    Ok(id)
}

macro_rules! id_type {
    ($name:ident, $field:literal, $doc:literal) => {
        #[doc = $doc]
        ///
        /// Normalised on construction: trimmed, lower-cased, and empty means `public`.
        /// At most 64 characters of ASCII letters, digits, `-` and `_`.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Normalises and validates `raw`; `InvalidInput` names the field on failure.
            pub fn new(raw: &str) -> Result<Self> {
                normalise($field, raw).map(Self)
            }

            /// The `public` id.
            pub fn public() -> Self {
                Self("public".to_owned())
            }

            /// Whether this is the `public` id.
            pub fn is_public(&self) -> bool {
                self.0 == "public"
            }

            /// The normalised id.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = StorageError;
            fn try_from(raw: &str) -> Result<Self> {
                Self::new(raw)
            }
        }
    };
}

id_type!(AppId, "app_id", "An app id.");
id_type!(TenantId, "tenant_id", "A tenant id, unique within its app.");

/// A tenant, always addressed with its app.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantIdentifier {
    /// The app the tenant belongs to.
    pub app: AppId,
    /// The tenant within the app.
    pub tenant: TenantId,
}

impl TenantIdentifier {
    /// Builds a tenant identifier from raw strings, normalising both.
    pub fn new(app: &str, tenant: &str) -> Result<Self> {
        Ok(Self {
            app: AppId::new(app)?,
            tenant: TenantId::new(tenant)?,
        })
    }

    /// The public tenant of `app`.
    pub fn public(app: AppId) -> Self {
        Self {
            app,
            tenant: TenantId::public(),
        }
    }

    /// The public tenant of the public app.
    pub fn default_public() -> Self {
        Self::public(AppId::public())
    }
}

impl fmt::Display for TenantIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.tenant)
    }
}

impl fmt::Debug for TenantIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.tenant)
    }
}

/// A tenant config's full key: the connection-URI domain it is stored under plus the
/// tenant. The domain is at most 256 characters; empty is the default domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantConfigKey {
    /// The connection-URI domain (`''` by default).
    pub connection_uri_domain: String,
    /// The tenant.
    pub tenant: TenantIdentifier,
}

impl TenantConfigKey {
    /// A key under the default (empty) connection-URI domain.
    pub fn new(tenant: TenantIdentifier) -> Self {
        Self {
            connection_uri_domain: String::new(),
            tenant,
        }
    }

    /// Validates the domain part.
    pub fn validate(&self) -> Result<()> {
        validate::text_allow_empty("connection_uri_domain", &self.connection_uri_domain, 256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(AppId::new("  ").unwrap().as_str(), "public");
        assert_eq!(AppId::new(" MyApp ").unwrap().as_str(), "myapp");
        assert!(TenantId::new("a/b").is_err());
        assert!(TenantId::new(&"x".repeat(65)).is_err());
        assert!(TenantId::new(&"x".repeat(64)).is_ok());
        assert!(TenantId::new("a\0").is_err());
    }
}
