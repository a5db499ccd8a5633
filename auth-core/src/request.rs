//! One parsed CDI request: its app/tenant from the path prefix, the query, the JSON
//! body, the `rid` header, and typed accessors that answer 400 like the Java core.

use crate::error::ApiError;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use storage_api::{AppId, TenantIdentifier};

/// A request routed to a handler.
#[derive(Debug)]
pub struct Req {
    /// The HTTP method.
    pub method: Method,
    /// The API path without prefixes, lower-cased, e.g. `/recipe/signup`.
    pub api: String,
    /// The tenant of the path prefix (public when absent).
    pub tenant: TenantIdentifier,
    /// Whether the path named a tenant explicitly.
    pub tenant_in_path: bool,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    /// The raw body.
    pub body: bytes::Bytes,
    /// The `rid` header.
    pub rid: Option<String>,
}

/// A parsed JSON object body.
pub struct Body(pub Map<String, Value>);

impl Req {
    /// The app.
    pub fn app(&self) -> &AppId {
        &self.tenant.app
    }

    /// The JSON object body; 400 `Invalid Json Input` otherwise.
    pub fn json(&self) -> Result<Body, ApiError> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(Body(m)),
            _ => Err(ApiError::BadRequest("Invalid Json Input".into())),
        }
    }

    /// A query parameter.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required query parameter.
    pub fn q_req(&self, name: &str) -> Result<&str, ApiError> {
        self.q(name).ok_or_else(|| ApiError::missing_query(name))
    }

    /// An optional boolean query parameter (`"true"`/`"false"`).
    pub fn q_bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.q(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::BadRequest(format!(
                "Field name '{name}' must be true or false"
            ))),
        }
    }

    /// 403 unless the path tenant is public (app-wide APIs).
    pub fn require_public_tenant(&self) -> Result<(), ApiError> {
        if self.tenant.tenant.is_public() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "Only public tenantId can call this app specific API".into(),
            ))
        }
    }
}

impl Body {
    /// A required string field.
    pub fn str(&self, name: &str) -> Result<String, ApiError> {
        match self.0.get(name) {
            None => Err(ApiError::missing(name)),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::field(name)),
        }
    }

    /// An optional string field: absent is `None`, `null` or another type is 400.
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::field(name)),
        }
    }

    /// A required boolean.
    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.get(name) {
            None => Err(ApiError::missing(name)),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::field(name)),
        }
    }

    /// An optional boolean with a default.
    pub fn opt_bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::field(name)),
        }
    }

    /// A required JSON object.
    pub fn object(&self, name: &str) -> Result<Map<String, Value>, ApiError> {
        match self.0.get(name) {
            None => Err(ApiError::missing(name)),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(ApiError::field(name)),
        }
    }

    /// An optional JSON object.
    pub fn opt_object(&self, name: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(ApiError::field(name)),
        }
    }

    /// An optional array of strings.
    pub fn opt_str_array(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ApiError::field(name))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::field(name)),
        }
    }
}

/// A 200 JSON answer with SuperTokens' content type.
pub fn ok_json(v: Value) -> Response {
    let mut r = axum::Json(v).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

/// `{"status": status}` as a 200 JSON answer.
pub fn status(status: &str) -> Response {
    ok_json(serde_json::json!({ "status": status }))
}
