//! GitLab's feature flags that change what the API answers, with GitLab's defaults. They
//! are set as on GitLab, through the features API (`POST /api/v4/features/:name`, admin
//! only, `lib/api/features.rb`), or from the start with `Config::features` (the
//! `sandbox` command's `--feature`), and kept in the state file.

use std::collections::BTreeMap;

/// `rate_limiting_headers_for_unthrottled_requests` (GitLab 18.6, off by default,
/// `lib/gitlab/middleware/rack_attack_headers.rb`): `RateLimit-*` on answers that are
/// not throttled. Off, only a throttle's own `429` carries them.
pub const RATE_LIMIT_HEADERS: &str = "rate_limiting_headers_for_unthrottled_requests";

/// `api_kaminari_count_with_limit` (GitLab 11.8, an `ops` flag off by default, on at
/// gitlab.com; `lib/gitlab/pagination/offset_pagination.rb`): above 10,000 records an
/// offset page carries no `X-Total`, `X-Total-Pages` or `rel="last"`.
pub const COUNT_WITH_LIMIT: &str = "api_kaminari_count_with_limit";

/// `repository_tree_gitaly_pagination` (GitLab 14.3, merge request 67509; its definition
/// `config/feature_flags/development/repository_tree_gitaly_pagination.yml` said
/// `default_enabled: false` then): `pagination=keyset` on the repository tree is answered
/// with keyset pages only when it is on; off, `lib/gitlab/pagination/gitaly_keyset_pager.rb`
/// falls through to offset pages (`Kaminari.paginate_array`, a `Link` whose `rel="next"`
/// carries `page`, no `page_token`), as an older self-managed GitLab answers. On here, as
/// on gitlab.com today.
pub const TREE_KEYSET: &str = "repository_tree_gitaly_pagination";

/// Every flag the sandbox models, with GitLab's default.
pub const KNOWN: [(&str, bool); 3] = [
    (RATE_LIMIT_HEADERS, false),
    (COUNT_WITH_LIMIT, false),
    (TREE_KEYSET, true),
];

/// Whether `name` is on among the flags `set`: as set, else GitLab's default.
pub fn enabled(set: &BTreeMap<String, bool>, name: &str) -> bool {
    set.get(name).copied().unwrap_or_else(|| {
        KNOWN
            .iter()
            .find(|(known, _)| *known == name)
            .is_some_and(|(_, default)| *default)
    })
}
