//! `http(s)` pages: the version is the `ETag`, sent back as `If-None-Match`; a `304`
//! means the remembered text is current. The body is streamed and abandoned as soon as
//! it passes the size limit.

use super::{Cached, Fetched, SourceError};

/// Fetches an `http(s)` page of at most `max_bytes`, sending the remembered `ETag`.
pub async fn fetch(
    http: &reqwest::Client,
    url: &url::Url,
    cached: Option<&Cached>,
    max_bytes: u64,
) -> Result<Fetched, SourceError> {
    let mut request = http.get(url.clone());
    if let Some(c) = cached {
        request = request.header(reqwest::header::IF_NONE_MATCH, &c.version);
    }
    let mut response = request.send().await.map_err(|error| SourceError::Fetch {
        url: url.clone(),
        error: error.without_url(),
    })?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED
        && let Some(c) = cached
    {
        return Ok(Fetched {
            text: c.text.clone(),
            unchanged: c.synced,
            version: c.version.clone(),
        });
    }
    if !response.status().is_success() {
        return Err(SourceError::Status {
            url: url.clone(),
            status: response.status(),
        });
    }
    let too_large = || SourceError::TooLarge {
        location: crate::redact::url(url),
        limit: max_bytes,
    };
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_large());
    }
    let version = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| SourceError::Body {
        url: url.clone(),
        error: error.without_url(),
    })? {
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).map_err(|e| SourceError::NotUtf8 {
        path: crate::redact::url(url).into(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(Fetched {
        text,
        unchanged: false,
        version,
    })
}
