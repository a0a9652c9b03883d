//! What a GitLab request that failed says: [`TransportError`] below HTTP, [`GitlabError`]
//! classified by status code and transport failure (never by body), and
//! [`create_without_duplicates`], the one way a create whose outcome is unknown is tried
//! again.

use gitlab::api::ApiError;

/// A failure below the HTTP layer (connection, timeout, TLS), or a request the client
/// refused to send or to follow.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request could not be sent or the answer not read.
    #[error("{}", describe_reqwest(.0))]
    Http(#[from] reqwest::Error),
    /// The request could not be built.
    #[error("building the request: {0}")]
    Build(#[from] http::Error),
    /// The endpoint's URL did not parse.
    #[error("`{url}`: {error}")]
    BadUrl {
        /// The URL, redacted.
        url: String,
        /// What the parser said.
        error: url::ParseError,
    },
    /// GitLab answered 3xx: redirects are never followed, the token would go along.
    #[error("{from} redirects to {to}: set gitlab.url to it")]
    Redirect {
        /// `gitlab.url`, redacted.
        from: String,
        /// Where the answer points, redacted.
        to: String,
    },
    /// A URL on another origin than `gitlab.url` (e.g. from a `Link` header).
    #[error("not sent: `{url}` is not on the configured GitLab (gitlab.url)")]
    ForeignOrigin {
        /// The URL, redacted.
        url: String,
    },
    /// Shutting down: the request was not sent.
    #[error("not sent: shutting down")]
    Cancelled,
    /// A write the fence did not let out: the run's lease is lost or lapsed.
    #[error("not sent: {0}")]
    Fenced(String),
    /// No connection to `gitlab.url` (refused, unknown host) before any answer from it in
    /// this client's life: a wrong URL, said at once rather than after a minute of
    /// retries.
    #[error(
        "cannot reach GitLab at {url} (gitlab.url): {reason}; nothing was sent. Check the URL, or whether GitLab is up"
    )]
    Unreachable {
        /// `gitlab.url`, redacted.
        url: String,
        /// Why, as the system said it (connection refused, name not known).
        reason: String,
    },
}

impl TransportError {
    /// True when no request went out, so nothing can have been applied.
    fn not_sent(&self) -> bool {
        !matches!(self, TransportError::Http(_))
    }

    /// True for a request that ran out of time: sent, maybe still being applied.
    fn timed_out(&self) -> bool {
        matches!(self, TransportError::Http(e) if e.is_timeout())
    }
}

/// reqwest's message with its causes, every URL in it redacted.
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::redact::text(&text).into_owned()
}

/// A GitLab request that failed, said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum GitlabError {
    /// 401: the token.
    #[error("{what}: GitLab answered 401 Unauthorized: the token is wrong, expired or revoked")]
    Unauthorized {
        /// The request.
        what: String,
    },
    /// 403: the token's rights.
    #[error(
        "{what}: GitLab answered 403 Forbidden: the token's user may not do this (needs at least Reporter to read, Planner or Developer to write issues), or the token lacks the `api` scope (a `read_api` token only reads)"
    )]
    Forbidden {
        /// The request.
        what: String,
    },
    /// 404.
    #[error(
        "{what}: GitLab answered 404 ({message}): check the project path and that the token's user can see it"
    )]
    NotFound {
        /// The request.
        what: String,
        /// GitLab's message.
        message: String,
    },
    /// GitLab answered 5xx: the request may or may not have been applied, but whoever
    /// answered is done with it.
    #[error("{what}: {message}")]
    Unavailable {
        /// The request.
        what: String,
        /// What happened.
        message: String,
    },
    /// The connection ended without an answer (reset, closed, broken mid-body): like a
    /// timeout, GitLab may have applied the request, or may still be applying it.
    #[error(
        "{what}: no answer ({message}); GitLab may have applied it or may still be applying it"
    )]
    NoAnswer {
        /// The request.
        what: String,
        /// What the HTTP client said.
        message: String,
    },
    /// No answer within `gitlab.timeout_seconds`: GitLab may still be applying the request
    /// (gitlab.com lets requests run for about a minute).
    #[error("{what}: no answer within the client timeout ({message})")]
    TimedOut {
        /// The request.
        what: String,
        /// What the HTTP client said.
        message: String,
    },
    /// A create that went unanswered (timed out or lost, in this run or in a daemon's
    /// sync shortly before) and is not in GitLab yet, or could not be looked for: it may
    /// still be committed, so it is not created again now; a later run finds it or
    /// creates it.
    #[error(
        "{what}: no answer, and not found in GitLab yet; GitLab may still be committing it, so it is not created again now (a later run finds it or creates it)"
    )]
    LeftForNextRun {
        /// The request.
        what: String,
    },
    /// GitLab answered 3xx; the redirect was not followed.
    #[error("{what}: {reason}")]
    Redirected {
        /// The request.
        what: String,
        /// Where it pointed.
        reason: TransportError,
    },
    /// Not sent: the client was shutting down or refused the URL.
    #[error("{what}: {reason}")]
    NotSent {
        /// The request.
        what: String,
        /// Why.
        reason: TransportError,
    },
    /// Anything else.
    #[error("{what}: {message}")]
    Other {
        /// The request.
        what: String,
        /// What went wrong.
        message: String,
    },
}

/// Creates something at most three times, never blindly: when an attempt's outcome is
/// unknown (a lost answer, a 5xx, a timeout), `look_up` checks whether it went through
/// before the next attempt. Any other error ends it at once.
///
/// Only a 5xx is tried again when the look-up finds nothing: an answer means whoever
/// answered is done with the request. A timeout or a connection that ended without an
/// answer may still be running on GitLab's side (Puma keeps a request whose client left
/// until `Rack::Timeout` ends it), so it is [`GitlabError::LeftForNextRun`], and so is
/// any of them when the look-up itself fails: never a second create while the first
/// may still land.
pub async fn create_without_duplicates<T, A, AF, L, LF>(
    mut attempt: A,
    mut look_up: L,
) -> Result<T, GitlabError>
where
    A: FnMut() -> AF,
    AF: Future<Output = Result<T, GitlabError>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, GitlabError>>,
{
    let mut last = None;
    for _ in 0..3 {
        match attempt().await {
            Ok(created) => return Ok(created),
            Err(e) if e.outcome_unknown() => {
                tracing::warn!("{e}; looking before trying again");
                let found = match look_up().await {
                    Ok(found) => found,
                    Err(lookup) if e.may_still_run() => {
                        tracing::warn!("{lookup}; leaving the create for a later run");
                        return Err(e.left_for_next_run());
                    }
                    Err(lookup) => return Err(lookup),
                };
                if let Some(found) = found {
                    return Ok(found);
                }
                if e.may_still_run() {
                    return Err(e.left_for_next_run());
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("the loop ran"))
}

impl GitlabError {
    /// Classifies by status code and transport failure, never by the body's shape: a 5xx
    /// is "outcome unknown" whether GitLab sent an HTML page or
    /// `{"message":"500 Internal Server Error"}`.
    pub(super) fn from_api(what: impl Into<String>, err: ApiError<TransportError>) -> Self {
        let what = what.into();
        let (status, detail) = match err {
            ApiError::GitlabWithStatus { status, msg } => (status, Some(msg)),
            ApiError::GitlabService { status, .. } => (status, None),
            ApiError::GitlabObjectWithStatus { status, obj } => (status, Some(obj.to_string())),
            ApiError::Client { source } => return Self::from_transport(what, source),
            other => {
                return GitlabError::Other {
                    what,
                    message: other.to_string(),
                };
            }
        };
        let answered = |detail: Option<String>| match detail {
            Some(d) => format!("GitLab answered {status}: {d}"),
            None => format!("GitLab answered {status}"),
        };
        match status.as_u16() {
            401 => GitlabError::Unauthorized { what },
            403 => GitlabError::Forbidden { what },
            404 => GitlabError::NotFound {
                what,
                message: detail.unwrap_or_else(|| status.to_string()),
            },
            _ if status.is_server_error() => GitlabError::Unavailable {
                what,
                message: answered(detail),
            },
            _ => GitlabError::Other {
                what,
                message: answered(detail),
            },
        }
    }

    pub(super) fn from_transport(what: String, source: TransportError) -> Self {
        if source.timed_out() {
            GitlabError::TimedOut {
                what,
                message: source.to_string(),
            }
        } else if matches!(source, TransportError::Redirect { .. }) {
            GitlabError::Redirected {
                what,
                reason: source,
            }
        } else if source.not_sent() {
            GitlabError::NotSent {
                what,
                reason: source,
            }
        } else if matches!(&source, TransportError::Http(e) if e.is_connect()) {
            // No connection, so nothing was sent: trying again cannot make a second one.
            GitlabError::Unavailable {
                what,
                message: format!("request failed: {source}"),
            }
        } else {
            GitlabError::NoAnswer {
                what,
                message: source.to_string(),
            }
        }
    }

    /// The error of a non-2xx answer read without the `gitlab` crate (lists that need
    /// their headers), classified by status as [`GitlabError::from_api`] does.
    pub(super) fn from_status(what: &str, status: http::StatusCode, body: &[u8]) -> Self {
        let what = what.to_owned();
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
            })
            .unwrap_or_else(|| status.to_string());
        match status.as_u16() {
            401 => GitlabError::Unauthorized { what },
            403 => GitlabError::Forbidden { what },
            404 => GitlabError::NotFound { what, message },
            code if status.is_server_error() => GitlabError::Unavailable {
                what,
                message: format!("GitLab answered {code}"),
            },
            code => GitlabError::Other {
                what,
                message: format!("GitLab answered {code}: {message}"),
            },
        }
    }

    /// True when the request may have been applied although no answer says so.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            GitlabError::Unavailable { .. }
                | GitlabError::NoAnswer { .. }
                | GitlabError::TimedOut { .. }
        )
    }

    /// True when the request may still be running on GitLab's side: nobody answered it.
    pub fn may_still_run(&self) -> bool {
        matches!(
            self,
            GitlabError::NoAnswer { .. } | GitlabError::TimedOut { .. }
        )
    }

    pub(super) fn left_for_next_run(self) -> Self {
        let what = match self {
            GitlabError::NoAnswer { what, .. } | GitlabError::TimedOut { what, .. } => what,
            other => other.to_string(),
        };
        GitlabError::LeftForNextRun { what }
    }

    /// True when the client is shutting down and the request was never sent.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            GitlabError::NotSent {
                reason: TransportError::Cancelled,
                ..
            }
        )
    }

    /// True for a 409 (e.g. a label that already exists).
    pub(super) fn is_conflict(err: &ApiError<TransportError>) -> bool {
        matches!(err, ApiError::GitlabWithStatus { status, .. } if status.as_u16() == 409)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_5xx_is_outcome_unknown_whatever_its_body() {
        let status = http::StatusCode::INTERNAL_SERVER_ERROR;
        let json = ApiError::<TransportError>::GitlabWithStatus {
            status,
            msg: "500 Internal Server Error".into(),
        };
        let html = ApiError::<TransportError>::GitlabService {
            status,
            data: b"<html>500</html>".to_vec(),
        };
        let object = ApiError::<TransportError>::GitlabObjectWithStatus {
            status: http::StatusCode::BAD_GATEWAY,
            obj: serde_json::json!({"error": "bad gateway"}),
        };
        for err in [json, html, object] {
            let e = GitlabError::from_api("creating", err);
            assert!(e.outcome_unknown(), "{e:?}");
        }
        let conflict = ApiError::<TransportError>::GitlabWithStatus {
            status: http::StatusCode::CONFLICT,
            msg: "exists".into(),
        };
        assert!(!GitlabError::from_api("creating", conflict).outcome_unknown());
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_timed_out_create_that_is_not_there_is_left_for_the_next_run() {
        let attempts = Cell::new(0);
        let result: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                attempts.set(attempts.get() + 1);
                Err(GitlabError::TimedOut {
                    what: "creating issue".into(),
                    message: "timed out".into(),
                })
            },
            || async { Ok(None) },
        ));
        assert_eq!(attempts.get(), 1, "never created again in the same run");
        assert!(matches!(result, Err(GitlabError::LeftForNextRun { .. })));
    }

    #[test]
    fn an_unanswered_create_is_never_sent_twice_even_when_the_look_up_fails() {
        let no_answer = || GitlabError::NoAnswer {
            what: "creating issue".into(),
            message: "connection reset".into(),
        };
        let timed_out = || GitlabError::TimedOut {
            what: "creating issue".into(),
            message: "timed out".into(),
        };
        for error in [no_answer, timed_out] {
            let attempts = Cell::new(0);
            let not_found: Result<u64, _> = block_on(create_without_duplicates(
                || async {
                    attempts.set(attempts.get() + 1);
                    Err(error())
                },
                || async { Ok(None) },
            ));
            assert_eq!(attempts.get(), 1, "{:?}", error());
            assert!(matches!(not_found, Err(GitlabError::LeftForNextRun { .. })));
            let attempts = Cell::new(0);
            let lookup_failed: Result<u64, _> = block_on(create_without_duplicates(
                || async {
                    attempts.set(attempts.get() + 1);
                    Err(error())
                },
                || async {
                    Err(GitlabError::Unavailable {
                        what: "listing issues".into(),
                        message: "GitLab answered 502".into(),
                    })
                },
            ));
            assert_eq!(attempts.get(), 1, "{:?}", error());
            // Left for the next run, so the apply remembers it as unsettled.
            assert!(
                matches!(lookup_failed, Err(GitlabError::LeftForNextRun { .. })),
                "{lookup_failed:?}"
            );
        }
    }

    #[test]
    fn a_5xx_whose_look_up_fails_is_not_tried_again() {
        let attempts = Cell::new(0);
        let result: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                attempts.set(attempts.get() + 1);
                Err(GitlabError::Unavailable {
                    what: "creating issue".into(),
                    message: "GitLab answered 500".into(),
                })
            },
            || async {
                Err(GitlabError::Forbidden {
                    what: "listing issues".into(),
                })
            },
        ));
        assert_eq!(attempts.get(), 1);
        assert!(matches!(result, Err(GitlabError::Forbidden { .. })));
    }

    #[test]
    fn other_unknown_outcomes_are_looked_up_then_tried_again() {
        let attempts = Cell::new(0);
        let result: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                attempts.set(attempts.get() + 1);
                if attempts.get() < 2 {
                    Err(GitlabError::Unavailable {
                        what: "creating issue".into(),
                        message: "GitLab answered 500".into(),
                    })
                } else {
                    Ok(7)
                }
            },
            || async { Ok(None) },
        ));
        assert_eq!((attempts.get(), result.unwrap()), (2, 7));
        let found: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                Err(GitlabError::TimedOut {
                    what: "creating issue".into(),
                    message: "timed out".into(),
                })
            },
            || async { Ok(Some(9)) },
        ));
        assert_eq!(
            found.unwrap(),
            9,
            "a timed-out create that went through is found"
        );
    }
}
