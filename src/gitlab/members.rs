//! The token's user, a project's members, and users looked up by username.

use gitlab::api::{self, AsyncQuery};
use serde::Deserialize;

use super::{Gitlab, GitlabError};

#[derive(Debug, Deserialize)]
pub(super) struct GlUser {
    pub(super) id: u64,
    pub(super) username: String,
}

/// The token's user (`GET /user`): `is_admin` is only in an administrator's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct CurrentUser {
    /// User id.
    pub id: u64,
    /// Username.
    pub username: String,
    /// The token may do everything in every project: an administrator's token with
    /// admin powers (see [`Gitlab::current_user`]).
    #[serde(default)]
    pub is_admin: bool,
    /// The user is an administrator, but the token has no admin powers: Admin Mode is
    /// on and the token lacks the `admin_mode` scope.
    #[serde(skip)]
    pub admin_without_powers: bool,
}

/// A user as `GET /users/:id` shows it to the token: `is_admin` only when the token
/// has admin powers (`Entities::UserDetailsWithAdmin`).
#[derive(Debug, Clone, Deserialize)]
struct UserDetails {
    #[serde(default)]
    is_admin: bool,
}

/// A project member (`GET /projects/:id/members/all`).
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    /// User id.
    pub id: u64,
    /// Username.
    pub username: String,
    /// 10 Guest, 15 Planner, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner.
    pub access_level: u8,
}

impl Gitlab {
    /// The token's own user. `is_admin` is true only when the token has admin powers
    /// now: `GET /user` shows `is_admin` to every administrator, even one whose token
    /// lacks the `admin_mode` scope while GitLab's Admin Mode is on, and such a token
    /// acts as its user's memberships alone. So an administrator's own user is read
    /// too: `GET /users/:id` shows `is_admin` only to a caller that may read all
    /// resources (`lib/api/users.rb`: `can_read_all_resources?` there, `admin?` for
    /// `/user`; `app/policies/base_policy.rb`, condition `admin`).
    pub async fn current_user(&self) -> Result<CurrentUser, GitlabError> {
        let mut user: CurrentUser = api::users::CurrentUser::builder()
            .build()
            .expect("a current-user query builds")
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api("reading the token's user (GET /user)", e))?;
        if user.is_admin {
            let ep = api::users::User::builder()
                .user(user.id)
                .build()
                .expect("a user query builds");
            let details: UserDetails = ep.query_async(&*self.client).await.map_err(|e| {
                GitlabError::from_api("checking the token's admin powers (GET /users/:id)", e)
            })?;
            user.is_admin = details.is_admin;
            user.admin_without_powers = !details.is_admin;
            if user.admin_without_powers {
                tracing::info!(
                    user = %user.username,
                    "the token's user is an administrator but the token has no admin powers \
                     (Admin Mode is on and the token lacks the admin_mode scope): its \
                     project roles are checked as anyone's"
                );
            }
        }
        Ok(user)
    }

    /// The project's members, inherited ones (from its groups) included, with the
    /// highest role each has.
    pub async fn members(&self, project: u64) -> Result<Vec<Member>, GitlabError> {
        let what = format!("listing the members of project {project}");
        let path = format!("projects/{project}/members/all");
        self.list_stable(&what, &path, &[], |m: &Member| m.id).await
    }

    /// The id of the user with `username` (GitLab usernames are unique ignoring case),
    /// or `None` when there is none.
    pub async fn find_user(&self, username: &str) -> Result<Option<u64>, GitlabError> {
        if username.is_empty() || username.contains(char::is_whitespace) {
            return Ok(None);
        }
        let ep = api::users::Users::builder()
            .username(username)
            .build()
            .expect("a user query builds");
        let users: Vec<GlUser> = ep
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("looking up user `{username}`"), e))?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .map(|u| u.id))
    }
}
