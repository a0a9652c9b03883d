//! `http(s)` pages: the version is the `ETag`, sent back as `If-None-Match`; a `304`
//! means the remembered text is current.

use super::{Cached, Fetched, SourceError};

/// Fetches an `http(s)` page, sending the remembered `ETag`.
pub async fn fetch(
    http: &reqwest::Client,
    url: &url::Url,
    cached: Option<&Cached>,
) -> Result<Fetched, SourceError> {
    let mut request = http.get(url.clone());
    if let Some(c) = cached {
        request = request.header(reqwest::header::IF_NONE_MATCH, &c.version);
    }
    let response = request.send().await.map_err(|error| SourceError::Fetch {
        url: url.clone(),
        error,
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
    let version = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.map_err(|error| SourceError::Body {
        url: url.clone(),
        error,
    })?;
    Ok(Fetched {
        text,
        unchanged: false,
        version,
    })
}
