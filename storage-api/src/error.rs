//! The one error type every backend returns (contract section 3).

use crate::ids::{AppId, TenantIdentifier};
use std::fmt;

/// The app or tenant that a failed write referred to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TenantOrApp {
    /// An app-scoped write whose app row does not exist.
    App(AppId),
    /// A tenant-scoped write whose tenant row does not exist.
    Tenant(TenantIdentifier),
}

impl fmt::Display for TenantOrApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantOrApp::App(a) => write!(f, "app `{a}`"),
            TenantOrApp::Tenant(t) => write!(f, "tenant {t}"),
        }
    }
}

/// Boxed source error of a driver.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure a storage operation can report. The same situation gives the same
/// variant on every backend; variants are derived from the database's own constraint
/// reports, never from a read-before-write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A write referred to an app or tenant whose row does not exist.
    #[error("{0} not found")]
    TenantOrAppNotFound(TenantOrApp),
    /// The tenant (or tenant config) already exists.
    #[error("tenant already exists")]
    DuplicateTenant,
    /// Two providers of one tenant config share a third-party id.
    #[error("duplicate third-party id in tenant config")]
    DuplicateThirdPartyId,
    /// Two clients of one provider share a client type.
    #[error("duplicate client type in third-party provider")]
    DuplicateClientType,
    /// The user id is already used in the app.
    #[error("user id already exists")]
    DuplicateUserId,
    /// The email is already used by a user of the same recipe in the tenant.
    #[error("email already exists in the tenant")]
    DuplicateEmail,
    /// The phone number is already used by a passwordless user in the tenant.
    #[error("phone number already exists in the tenant")]
    DuplicatePhoneNumber,
    /// The (third-party id, third-party user id) pair already exists in the tenant.
    #[error("third-party user already exists in the tenant")]
    DuplicateThirdPartyUser,
    /// The user the operation refers to does not exist.
    #[error("unknown user id")]
    UnknownUserId,
    /// A passwordless device with this id hash already exists.
    #[error("duplicate device id hash")]
    DuplicateDeviceIdHash,
    /// A passwordless code with this id already exists.
    #[error("duplicate code id")]
    DuplicateCodeId,
    /// A passwordless code with this link-code hash already exists.
    #[error("duplicate link code hash")]
    DuplicateLinkCodeHash,
    /// The passwordless device the code is for does not exist.
    #[error("unknown device id hash")]
    UnknownDeviceIdHash,
    /// The password-reset token already exists.
    #[error("duplicate password-reset token")]
    DuplicatePasswordResetToken,
    /// The email-verification token already exists.
    #[error("duplicate email-verification token")]
    DuplicateEmailVerificationToken,
    /// The role does not exist in the app.
    #[error("unknown role")]
    UnknownRole,
    /// A JWT signing key with this key id already exists in the app.
    #[error("duplicate JWT signing key id")]
    DuplicateKeyId,
    /// The user already has a TOTP device with this name.
    #[error("TOTP device already exists")]
    DeviceAlreadyExists,
    /// The TOTP device does not exist.
    #[error("unknown TOTP device")]
    UnknownDevice,
    /// The user has no TOTP device (no TOTP user row).
    #[error("unknown TOTP user")]
    UnknownTotpUser,
    /// A used code with this creation time already exists for the user in the tenant.
    #[error("used TOTP code already exists")]
    UsedCodeAlreadyExists,
    /// Account linking: the recipe user is already linked to the primary user
    /// `primary` (make primary).
    #[error("recipe user is already linked to a primary user")]
    RecipeUserAlreadyLinked {
        /// The primary user it is linked to.
        primary: String,
    },
    /// Account linking: the recipe user is already linked to another primary user
    /// (link).
    #[error("recipe user is already linked with another primary user")]
    RecipeUserAlreadyLinkedWithAnotherPrimaryUser {
        /// The primary user it is linked to.
        primary: String,
    },
    /// Account linking: the user given as primary is not a primary user (link).
    #[error("input user is not a primary user")]
    InputUserIsNotAPrimaryUser,
    /// Account linking: an email, phone number or third-party identity of the group
    /// is already used by another primary user sharing a tenant with it (the
    /// invariant of contract-phase2 A.2).
    #[error("account info already used by another primary user")]
    AccountInfoAlreadyUsedByAnotherPrimaryUser {
        /// The other primary user.
        primary: String,
    },
    /// User-id mapping: the SuperTokens user id does not exist in the app.
    #[error("unknown SuperTokens user id")]
    UnknownSuperTokensUserId,
    /// User-id mapping: a mapping already uses the SuperTokens id and/or the
    /// external id.
    #[error("user-id mapping already exists")]
    UserIdMappingAlreadyExists {
        /// A mapping of the SuperTokens user id exists.
        supertokens_id_taken: bool,
        /// A mapping of the external user id exists.
        external_id_taken: bool,
    },
    /// A value was rejected before the database saw it.
    #[error("invalid input for `{field}`: {reason}")]
    InvalidInput {
        /// The name of the offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Serialization failure, deadlock, lock not obtained: running the transaction
    /// again may succeed.
    #[error("retryable conflict: {message}")]
    Retryable {
        /// What the database reported.
        message: String,
        /// The driver error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// The database cannot be reached.
    #[error("database unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The driver error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// A URI or option that cannot be used. Never contains a password.
    #[error("configuration error: {0}")]
    Config(String),
    /// Anything else, with the driver's error as its source.
    #[error("query failed: {message}")]
    Query {
        /// Context of the failure.
        message: String,
        /// The driver error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl StorageError {
    /// Shorthand for [`StorageError::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StorageError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand for a [`StorageError::Query`] without a source.
    pub fn query(message: impl Into<String>) -> Self {
        StorageError::Query {
            message: message.into(),
            source: None,
        }
    }

    /// Whether running the transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Retryable { .. })
    }
}

/// Result alias used across the contract.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
