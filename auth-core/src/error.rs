//! Errors of a request: the plain-text, non-200 answers of the CDI. Business outcomes
//! (`{"status": "..."}`) are not errors; handlers return them as 200 JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use storage_api::StorageError;

/// A request that ends with a non-200 plain-text answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a message for the caller.
    #[error("{0}")]
    BadRequest(String),
    /// 401 `Invalid API key`.
    #[error("Invalid API key")]
    InvalidApiKey,
    /// 403 with a message.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `Not found`.
    #[error("Not found")]
    NotFound,
    /// 405 `Method not supported`.
    #[error("Method not supported")]
    MethodNotAllowed,
    /// 500: the cause is logged, the caller sees `Internal Error`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 for a missing or ill-typed JSON field.
    pub fn field(name: &str) -> Self {
        ApiError::BadRequest(format!("Field name '{name}' is invalid in JSON input"))
    }

    /// A 400 for a missing JSON field.
    pub fn missing(name: &str) -> Self {
        ApiError::BadRequest(format!("Field name '{name}' is missing in JSON input"))
    }

    /// A 400 for a missing query parameter.
    pub fn missing_query(name: &str) -> Self {
        ApiError::BadRequest(format!("Field name '{name}' is missing in GET request"))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::TenantOrAppNotFound(which) => {
                ApiError::BadRequest(format!("AppId or tenantId not found => {which:?}"))
            }
            StorageError::InvalidInput { .. } => ApiError::BadRequest(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl<E: std::fmt::Display> From<storage_api::TxError<E>> for ApiError {
    fn from(e: storage_api::TxError<E>) -> Self {
        match e {
            storage_api::TxError::Storage(s) => s.into(),
            storage_api::TxError::Rollback(x) | storage_api::TxError::Commit(x) => {
                ApiError::Internal(x.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                "Internal Error".to_owned()
            }
            other => other.to_string(),
        };
        let mut r = (self.status(), body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
        r
    }
}
