//! Request parameters as GitLab's API (Grape) sees them: the query string and the body,
//! form-encoded (the `gitlab` crate) or JSON (python-gitlab), merged into one multi-map.

use axum::http::HeaderMap;

use crate::error::ApiError;

/// Parameter name → values, in arrival order. `name[]` is stored as `name`.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Merges the query string and the body.
    pub fn parse(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Self, ApiError> {
        let mut params = Params::default();
        if let Some(q) = query {
            params.add_form(q.as_bytes());
        }
        if body.is_empty() {
            return Ok(params);
        }
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type.starts_with("application/json") {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|_| ApiError::bad_request("400 Bad request - invalid JSON"))?;
            let serde_json::Value::Object(map) = value else {
                return Err(ApiError::bad_request(
                    "400 Bad request - JSON body must be an object",
                ));
            };
            for (key, value) in map {
                params.add_json(&key, value);
            }
        } else {
            params.add_form(body);
        }
        Ok(params)
    }

    fn add_form(&mut self, bytes: &[u8]) {
        for (k, v) in form_urlencoded::parse(bytes) {
            let key = k.strip_suffix("[]").unwrap_or(&k).to_owned();
            self.pairs.push((key, v.into_owned()));
        }
    }

    fn add_json(&mut self, key: &str, value: serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Array(values) => {
                if values.is_empty() {
                    // An empty array is "set to nothing", as `assignee_ids=` is in a form.
                    self.pairs.push((key.to_owned(), String::new()));
                }
                for v in values {
                    self.add_json(key, v);
                }
            }
            Value::Null => self.pairs.push((key.to_owned(), String::new())),
            Value::String(s) => self.pairs.push((key.to_owned(), s)),
            other => self.pairs.push((key.to_owned(), other.to_string())),
        }
    }

    /// The last value of `name` (a later value overrides, as in Rack).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, split on commas where GitLab takes comma-joined lists too.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        let values: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() {
            return None;
        }
        Some(
            values
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Every name and value in arrival order, for nested parameters such as
    /// `actions[][file_path]` that the other accessors do not parse.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// True when the parameter is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// An integer parameter; a present but malformed value is GitLab's 400.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request_error(format!("{name} is invalid"))),
        }
    }

    /// A boolean parameter (`true`/`false`/`1`/`0`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some("true" | "1" | "t" | "yes") => Ok(Some(true)),
            Some("false" | "0" | "f" | "no") => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_request_error(format!("{name} is invalid"))),
        }
    }
}
