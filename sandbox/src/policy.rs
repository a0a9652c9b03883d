//! Who may do what in a project, as GitLab's policies decide it: roles from
//! `app/policies/project_policy.rb`, the issue abilities from
//! `app/policies/issue_policy.rb` and `app/policies/issuable_policy.rb`.
//!
//! GitLab's `planner` condition is `team_access_level == PLANNER`: Reporters and up do
//! not get `planner_access`, they get the same issue abilities from `reporter_access`,
//! and a few abilities differ between the two (`destroy_issue` is Planner's and
//! Owner's; `download_code` is Reporter's and up, not Planner's).
//!
//! Only the abilities the sandbox's endpoints check are modelled. An administrator
//! (`root`, or a user created with `admin=true`) may do everything while the
//! `admin_mode` application setting is off (the default); with it on, only through a
//! token with the `admin_mode` scope (`app/policies/base_policy.rb`).

use crate::model::{Issue, Project, State};

/// `Gitlab::Access::GUEST`.
pub const GUEST: u8 = 10;
/// `Gitlab::Access::PLANNER`.
pub const PLANNER: u8 = 15;
/// `Gitlab::Access::REPORTER`.
pub const REPORTER: u8 = 20;
/// `Gitlab::Access::DEVELOPER`.
pub const DEVELOPER: u8 = 30;
/// `Gitlab::Access::MAINTAINER`.
pub const MAINTAINER: u8 = 40;
/// `Gitlab::Access::OWNER`.
pub const OWNER: u8 = 50;

/// The access levels a membership may have.
pub const LEVELS: [u8; 6] = [GUEST, PLANNER, REPORTER, DEVELOPER, MAINTAINER, OWNER];

/// What one user has in one project.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    user_id: u64,
    admin: bool,
    level: Option<u8>,
    private: bool,
}

impl Access {
    /// The access of `user_id` to `project`: its membership there or, higher, in the
    /// project's group or an ancestor group (`Project#team`).
    pub fn of(state: &State, project: &Project, user_id: u64) -> Access {
        Access {
            user_id,
            admin: state.user(user_id).is_some_and(|u| u.is_admin),
            level: state.access_level(project, user_id),
            private: project.visibility == "private",
        }
    }

    /// The same access with admin powers as the request's token has them: an
    /// administrator's token without the `admin_mode` scope, while the setting is on,
    /// acts as its user's memberships alone.
    pub fn as_admin(mut self, admin: bool) -> Access {
        self.admin = admin;
        self
    }

    /// The user asking.
    pub fn user_id(&self) -> u64 {
        self.user_id
    }

    /// Whether the user is a member, directly or through a group (`is_project_member` in
    /// the issue policy: `project.team.member?`).
    pub fn is_member(&self) -> bool {
        self.level.is_some()
    }

    /// `read_project`: members and admins; anyone signed in on a public or internal
    /// project (`public_user_access`, `internal_access`).
    pub fn read_project(&self) -> bool {
        self.admin || self.level.is_some() || !self.private
    }

    /// `guest_access`, which gives `read_issue`, `create_issue`, `create_note`: the same
    /// people as `read_project` (`rule { can?(:public_user_access) } ... enable :guest_access`).
    pub fn guest_access(&self) -> bool {
        self.read_project()
    }

    /// `admin_issue` (and `update_issue`, `reopen_issue` on any issue): Planner and
    /// Reporter and up (`rule { can?(:planner_access) }`, `rule { can?(:reporter_access) }`).
    pub fn admin_issue(&self) -> bool {
        self.admin || self.level.is_some_and(|l| l >= PLANNER)
    }

    /// `admin_label`, needed to create a label through the labels API and to have a
    /// missing label created from an issue's `labels`: same roles as `admin_issue`.
    pub fn admin_label(&self) -> bool {
        self.admin_issue()
    }

    /// `update_issue` (and `reopen_issue`) on `issue`: `admin_issue`, or its author or
    /// an assignee with guest access (`issuable_policy.rb`: `assignee_or_author`).
    pub fn update_issue(&self, issue: &Issue) -> bool {
        self.admin_issue()
            || (self.guest_access()
                && (issue.author_id == self.user_id || issue.assignee_ids.contains(&self.user_id)))
    }

    /// `read_issue` on `issue`: guest access, and for a confidential issue also its
    /// author, an assignee, Planner/Reporter+ or an admin (`issue_policy.rb`:
    /// `rule { confidential & ~can_read_confidential }` prevents it; `Issue#readable_by?`).
    pub fn read_issue(&self, issue: &Issue) -> bool {
        self.guest_access()
            && (!issue.confidential
                || self.admin_issue()
                || issue.author_id == self.user_id
                || issue.assignee_ids.contains(&self.user_id))
    }

    /// `set_issue_metadata` (labels, assignees, milestone, due date): on a new issue an
    /// admin or any member (even a Guest, gitlab-org/gitlab#300100) but not a non-member
    /// of a public project; on an existing issue only `admin_issue`.
    pub fn set_issue_metadata(&self, persisted: bool) -> bool {
        if persisted {
            self.admin_issue()
        } else {
            self.admin || (self.is_member() && self.guest_access())
        }
    }

    /// `admin_milestone`, needed to create one: the same roles as `admin_issue`
    /// (`planner_access` and `reporter_access` both enable it).
    pub fn admin_milestone(&self) -> bool {
        self.admin_issue()
    }

    /// `admin_note` on a note by `author_id` (editing it): its author
    /// (`note_policy.rb`: `rule { is_author }`), Maintainers and Owners
    /// (`project_policy.rb`: `maintainer_access` enables `admin_note`), admins.
    pub fn admin_note(&self, author_id: u64) -> bool {
        author_id == self.user_id || self.admin_project_member()
    }

    /// `admin_project` (`PUT /projects/:id`): Maintainers and Owners
    /// (`project_policy.rb`: `maintainer_access` enables it).
    pub fn admin_project(&self) -> bool {
        self.admin_project_member()
    }

    /// `change_visibility_level`: Owners only (`project_policy.rb`: `owner_access`).
    pub fn change_visibility_level(&self) -> bool {
        self.admin || self.level.is_some_and(|l| l >= OWNER)
    }

    /// `admin_project_member`: Maintainers and Owners add members.
    pub fn admin_project_member(&self) -> bool {
        self.admin || self.level.is_some_and(|l| l >= MAINTAINER)
    }

    /// `owner_access`: Owners and admins (`rule { owner | admin }.enable :owner_access`).
    fn owner_access(&self) -> bool {
        self.admin || self.level.is_some_and(|l| l >= OWNER)
    }

    /// `public_access`: anyone signed in on a public or internal project
    /// (`rule { can?(:public_user_access) }.policy { enable :public_access }`), which
    /// enables `download_code` and `read_merge_request` whatever the role.
    fn public_access(&self) -> bool {
        !self.private
    }

    /// `admin_issue_board` (create, edit, delete a board) and `admin_issue_board_list`
    /// (its lists): `planner_access` and `reporter_access` both enable them, so Planner,
    /// Reporter and up, and admins; not Guest. Boards exist on every tier: since GitLab
    /// 12.1 `Project#multiple_issue_boards_available?` is `true` (`app/models/project.rb`).
    pub fn admin_issue_board(&self) -> bool {
        self.admin || self.level.is_some_and(|l| l >= PLANNER)
    }

    /// `download_code` (files, branches, commits, compare): `reporter_access` enables it,
    /// `planner_access` does not; on a public or internal project `public_access` gives
    /// it to everyone.
    pub fn download_code(&self) -> bool {
        self.admin || self.level.is_some_and(|l| l >= REPORTER) || self.public_access()
    }

    /// `read_merge_request`: Planner, Reporter and up (both rules enable it), and
    /// everyone through `public_access` on a public or internal project; not a Guest of
    /// a private one.
    pub fn read_merge_request(&self) -> bool {
        self.admin || self.level.is_some_and(|l| l >= PLANNER) || self.public_access()
    }

    /// `destroy_issue`: `planner_access` (exactly Planner) and `owner_access` enable it;
    /// Reporters, Developers and Maintainers may not delete issues.
    pub fn destroy_issue(&self) -> bool {
        self.owner_access() || self.level == Some(PLANNER)
    }
}
