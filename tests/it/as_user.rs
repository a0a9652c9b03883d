//! A GitLab client for the sandbox tests that act as several users: requests with one
//! user's token, and root's helpers to make users, tokens and memberships through
//! GitLab's own API, as any client could.

use crate::common::TOKEN;

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

/// Requests to one sandbox with one token.
#[derive(Clone)]
pub struct As {
    http: Client,
    base: String,
    token: String,
}

impl As {
    pub fn root(url: &str) -> Self {
        As {
            http: Client::new(),
            base: format!("{url}/api/v4"),
            token: TOKEN.into(),
        }
    }

    /// The same sandbox with another token.
    pub fn with_token(&self, token: &str) -> Self {
        As {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("PRIVATE-TOKEN", &self.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.call(Method::POST, path, form).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
        body
    }

    pub async fn put(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.call(Method::PUT, path, form).await;
        assert_eq!(status, StatusCode::OK, "PUT {path}: {body}");
        body
    }

    /// As root: a new user and a token of theirs; returns (user id, their client).
    pub async fn new_user(&self, username: &str) -> (u64, As) {
        let user = self
            .post(
                "/users",
                &[
                    ("username", username),
                    ("name", username),
                    ("email", &format!("{username}@example.com")),
                    ("password", "a-long-password-1"),
                ],
            )
            .await;
        let id = user["id"].as_u64().unwrap();
        let token = self
            .post(
                &format!("/users/{id}/personal_access_tokens"),
                &[("name", "tests"), ("scopes[]", "api")],
            )
            .await;
        (id, self.with_token(token["token"].as_str().unwrap()))
    }

    /// As root: adds `user` to `project` with `level`.
    pub async fn add_member(&self, project: &str, user: u64, level: u8) {
        self.post(
            &format!("{project}/members"),
            &[
                ("user_id", &user.to_string()),
                ("access_level", &level.to_string()),
            ],
        )
        .await;
    }

    pub async fn user_id(&self, username: &str) -> u64 {
        self.get(&format!("/users?username={username}")).await[0]["id"]
            .as_u64()
            .unwrap()
    }
}

/// Turns a GitLab feature flag on in the sandbox at `url`, as root with `POST
/// /api/v4/features/:name` (`lib/api/features.rb`); the request is an observer's, so it
/// is neither counted nor throttled.
pub async fn enable_feature(url: &str, name: &str) {
    let r = Client::new()
        .post(format!("{url}/api/v4/features/{name}"))
        .header("PRIVATE-TOKEN", TOKEN)
        .header("x-sandbox-observer", "1")
        .form(&[("value", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "enabling {name}");
}
