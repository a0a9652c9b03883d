//! The sandbox decides who may do what as GitLab does: users and tokens, project
//! members and roles, silently dropped issue metadata, exact label titles, confidential
//! issues (quick actions are `sandbox_quick_actions`', tiers `sandbox_tiers`'). Every
//! behaviour cites the GitLab source it follows (paths in gitlab-org/gitlab); everything
//! is set up through GitLab's own API, as any client could.

use crate::as_user::As;
use crate::common::TOKEN;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A sandbox with the public `acme/roadmap`, the private `acme/secret` and users
/// `drew` and `ashley`, at `tier`.
pub(crate) async fn sandbox(tier: gitlab_sandbox::Tier) -> gitlab_sandbox::Running {
    let config = gitlab_sandbox::Config {
        token: TOKEN.into(),
        projects: vec![
            ("acme/roadmap".into(), "public".into()),
            ("acme/secret".into(), "private".into()),
        ],
        users: vec![
            ("drew".into(), "Drew".into()),
            ("ashley".into(), "Ashley".into()),
        ],
        members: Vec::new(),
        state_file: None,
        tier,
        ..Default::default()
    };
    gitlab_sandbox::Sandbox::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox binds")
        .spawn()
}

pub(crate) const ROADMAP: &str = "/projects/acme%2Froadmap";
pub(crate) const SECRET: &str = "/projects/acme%2Fsecret";

pub(crate) fn titles(labels: &Value) -> Vec<&str> {
    labels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().or(l["name"].as_str()).unwrap())
        .collect()
}

pub(crate) fn assignee_ids(issue: &Value) -> Vec<u64> {
    issue["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect()
}

// `lib/api/users.rb`: `post` is `authenticated_as_admin!` and answers 201; the admin
// `:user_id/personal_access_tokens` resource answers `PersonalAccessTokenWithToken`
// (201, with `token`); `resource :user` `get` presents the token's own user,
// `UserWithAdmin` (with `is_admin`) only for admins.
#[tokio::test]
async fn an_admin_makes_users_and_tokens_and_each_token_is_its_users() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let (id, alice) = root.new_user("alice").await;
    let (_, bob) = root.new_user("bob").await;

    let me = alice.get("/user").await;
    assert_eq!(
        (me["id"].as_u64(), me["username"].as_str()),
        (Some(id), Some("alice"))
    );
    assert!(me.get("is_admin").is_none(), "{me}");
    assert_eq!(bob.get("/user").await["username"], "bob");
    let root_me = root.get("/user").await;
    assert_eq!(
        (root_me["username"].as_str(), root_me["is_admin"].as_bool()),
        (Some("root"), Some(true))
    );

    // Not an admin: 403 (`authenticated_as_admin!`); a taken username: 409.
    let form = [
        ("username", "eve"),
        ("name", "Eve"),
        ("email", "eve@example.com"),
        ("password", "x-long-password"),
    ];
    let (status, body) = alice.call(Method::POST, "/users", &form).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::FORBIDDEN, Some("403 Forbidden"))
    );
    let (status, body) = root
        .call(
            Method::POST,
            "/users",
            &[
                ("username", "alice"),
                ("name", "A"),
                ("email", "a2@example.com"),
                ("password", "x-long-password"),
            ],
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("Username has already been taken")
        )
    );
    // An unknown token is still 401.
    let stranger = root.with_token("glpat-nope");
    assert_eq!(
        stranger.call(Method::GET, "/user", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
}

// `app/policies/base_policy.rb`, condition `admin`: with the `admin_mode` application
// setting on, an administrator has admin powers only in admin mode, which an API request
// gets from a token with the `admin_mode` scope
// (`lib/gitlab/auth/request_authenticator.rb`, `valid_access_token?(scopes: [:admin_mode])`).
// `lib/api/users.rb`: `GET /user` shows `is_admin` whenever `current_user.admin?`, but
// `GET /users/:id` shows it (`UserDetailsWithAdmin`) only when `can_read_all_resources?`;
// `lib/api/settings.rb`: `PUT /application/settings` is for admins.
#[tokio::test]
async fn under_admin_mode_an_administrators_token_needs_the_admin_mode_scope() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let admin = root
        .post(
            "/users",
            &[
                ("username", "ops"),
                ("name", "Ops"),
                ("email", "ops@example.com"),
                ("password", "a-long-password-1"),
                ("admin", "true"),
            ],
        )
        .await;
    let id = admin["id"].as_u64().unwrap();
    let token = |scopes: &'static [&'static str]| {
        let root = root.clone();
        async move {
            let mut form = vec![("name", "t")];
            form.extend(scopes.iter().map(|s| ("scopes[]", *s)));
            let t = root
                .post(&format!("/users/{id}/personal_access_tokens"), &form)
                .await;
            root.with_token(t["token"].as_str().unwrap())
        }
    };
    let plain = token(&["api"]).await;
    let scoped = token(&["api", "admin_mode"]).await;
    let me = format!("/users/{id}");

    // Off (the default): every administrator's token has the powers.
    assert_eq!(root.get("/application/settings").await["admin_mode"], false);
    assert_eq!(plain.get(&me).await["is_admin"], true);
    assert_eq!(
        plain.get(SECRET).await["path_with_namespace"],
        "acme/secret"
    );

    root.put("/application/settings", &[("admin_mode", "true")])
        .await;
    // `GET /user` still says administrator; `GET /users/:id` does not.
    assert_eq!(plain.get("/user").await["is_admin"], true);
    assert!(plain.get(&me).await.get("is_admin").is_none());
    assert_eq!(scoped.get(&me).await["is_admin"], true);
    // Without the scope: no admin endpoint, no private project, labels dropped.
    assert_eq!(
        plain
            .call(Method::GET, "/application/settings", &[])
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        plain.call(Method::GET, SECRET, &[]).await.0,
        StatusCode::NOT_FOUND
    );
    root.post(
        &format!("{ROADMAP}/labels"),
        &[("name", "qa"), ("color", "#ff0000")],
    )
    .await;
    let issue = plain
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "Plain"), ("labels", "qa")],
        )
        .await;
    assert!(titles(&issue["labels"]).is_empty(), "{issue}");
    // With it: everything, as before.
    assert_eq!(
        scoped.get(SECRET).await["path_with_namespace"],
        "acme/secret"
    );
    let issue = scoped
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "Scoped"), ("labels", "qa")],
        )
        .await;
    assert_eq!(titles(&issue["labels"]), ["qa"]);
}

// `lib/api/members.rb`: `POST /projects/:id/members` (201 `Entities::Member`, user fields
// at the top level), `GET .../members` filtered by `query` and `user_ids`, `/members/all`;
// `authorize_admin_source!` refuses non-Maintainers (403).
// `lib/api/entities/project_with_access.rb`: `permissions.project_access` is the caller's
// direct membership, null for a non-member.
#[tokio::test]
async fn members_have_roles_and_the_project_shows_the_callers_access() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let (dev_id, dev) = root.new_user("dev").await;
    let (_, outsider) = root.new_user("outsider").await;
    root.add_member(ROADMAP, dev_id, 30).await;
    let drew = root.user_id("drew").await;
    root.add_member(ROADMAP, drew, 15).await;

    let members = root.get(&format!("{ROADMAP}/members")).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    assert_eq!(
        (
            members[0]["username"].as_str(),
            members[0]["access_level"].as_u64()
        ),
        (Some("dev"), Some(30))
    );
    let found = root.get(&format!("{ROADMAP}/members/all?query=DRE")).await;
    assert_eq!(titles_of_users(&found), ["drew"]);
    let found = root
        .get(&format!("{ROADMAP}/members?user_ids[]={dev_id}"))
        .await;
    assert_eq!(titles_of_users(&found), ["dev"]);

    let project = dev.get(ROADMAP).await;
    assert_eq!(project["permissions"]["project_access"]["access_level"], 30);
    assert!(outsider.get(ROADMAP).await["permissions"]["project_access"].is_null());

    // A Developer may not add members; adding someone twice is 409.
    let form = [("user_id", "1"), ("access_level", "10")];
    assert_eq!(
        dev.call(Method::POST, &format!("{ROADMAP}/members"), &form)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let form = [("user_id", &*dev_id.to_string()), ("access_level", "10")];
    let (status, body) = root
        .call(Method::POST, &format!("{ROADMAP}/members"), &form)
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::CONFLICT, Some("Member already exists"))
    );
}

fn titles_of_users(members: &Value) -> Vec<&str> {
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect()
}

// `lib/api/helpers.rb` `find_project!`: a project the caller cannot `read_project`
// (`project_policy.rb`: private, not a member) is `not_found!('Project')`, the same 404
// as a missing one.
#[tokio::test]
async fn a_private_project_is_not_found_for_a_non_member() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let (id, user) = root.new_user("nonmember").await;
    for path in [
        SECRET.to_owned(),
        format!("{SECRET}/issues"),
        format!("{SECRET}/labels"),
    ] {
        let (status, body) = user.call(Method::GET, &path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["message"], "404 Project Not Found", "{path}");
    }
    root.add_member(SECRET, id, 10).await;
    user.get(SECRET).await;
}

// A signed-in non-member of a public project has `guest_access` (`project_policy.rb`
// `public_user_access`), so may create issues, but `issue_policy.rb` gives
// `set_issue_metadata` on a new issue only to admins and members. Without it
// `issuable_base_service.rb#filter_params` deletes `assignee_ids` and
// `issuable/callbacks/labels.rb` ignores `labels`: 201, both silently dropped, and no
// label is created. (This follows the current source; older versions had
// `rule { ~persisted & can?(:guest_access) }`, which let such a user set them.)
#[tokio::test]
async fn a_public_project_non_member_creates_an_issue_without_its_labels_and_assignees() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let (id, user) = root.new_user("passerby").await;
    let drew = root.user_id("drew").await.to_string();
    let issue = user
        .post(
            &format!("{ROADMAP}/issues"),
            &[
                ("title", "Hi"),
                ("labels", "bug"),
                ("assignee_ids[]", &drew),
            ],
        )
        .await;
    assert!(titles(&issue["labels"]).is_empty(), "{issue}");
    assert!(assignee_ids(&issue).is_empty(), "{issue}");
    assert_eq!(issue["author"]["id"].as_u64(), Some(id));
    assert!(
        root.get(&format!("{ROADMAP}/labels"))
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

// `issue_policy.rb`: `rule { ~persisted & is_project_member & can?(:guest_access) }`
// gives a Guest member `set_issue_metadata` on a NEW issue (gitlab-org/gitlab#300100),
// so an existing label is set; but a missing one is only created for who may create
// labels (`labels/find_or_create_service.rb`, `admin_label` is Planner/Reporter+ in
// `project_policy.rb`), so it is silently dropped. `lib/api/helpers/labels_helpers.rb`
// `create_label` starts with `authorize! :admin_label`: a Guest's `POST /labels` is 403.
#[tokio::test]
async fn a_guest_sets_existing_labels_on_a_new_issue_but_creates_none() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let (id, guest) = root.new_user("guest").await;
    root.add_member(ROADMAP, id, 10).await;
    root.post(
        &format!("{ROADMAP}/labels"),
        &[("name", "known"), ("color", "#ff0000")],
    )
    .await;

    let issue = guest
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "Hi"), ("labels", "known,missing")],
        )
        .await;
    assert_eq!(titles(&issue["labels"]), ["known"]);
    let labels = root.get(&format!("{ROADMAP}/labels")).await;
    assert_eq!(
        titles(&labels),
        ["known"],
        "the missing label was not created"
    );

    let (status, body) = guest
        .call(
            Method::POST,
            &format!("{ROADMAP}/labels"),
            &[("name", "new"), ("color", "#00ff00")],
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::FORBIDDEN, Some("403 Forbidden"))
    );
}

// `lib/api/issues.rb` `put`: `authorize! :update_issue` — a Guest has it only for issues
// they wrote or are assigned to (`issuable_policy.rb` `assignee_or_author`), so editing
// someone else's issue is 403. On their own (persisted) issue `set_issue_metadata` needs
// `admin_issue` (`issue_policy.rb` `rule { persisted & can?(:admin_issue) }`): labels are
// dropped while the title changes. A Reporter has `admin_issue` (`project_policy.rb`).
#[tokio::test]
async fn a_guest_edits_only_their_own_issue_and_not_its_labels() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let (gid, guest) = root.new_user("guest").await;
    let (rid, reporter) = root.new_user("reporter").await;
    root.add_member(ROADMAP, gid, 10).await;
    root.add_member(ROADMAP, rid, 20).await;
    root.post(
        &format!("{ROADMAP}/labels"),
        &[("name", "known"), ("color", "#ff0000")],
    )
    .await;
    let roots = root
        .post(&format!("{ROADMAP}/issues"), &[("title", "Root's")])
        .await;
    let own = guest
        .post(&format!("{ROADMAP}/issues"), &[("title", "Guest's")])
        .await;

    let path = format!("{ROADMAP}/issues/{}", roots["iid"]);
    let (status, body) = guest
        .call(Method::PUT, &path, &[("title", "Mine now")])
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::FORBIDDEN, Some("403 Forbidden"))
    );

    let path = format!("{ROADMAP}/issues/{}", own["iid"]);
    let edited = guest
        .put(&path, &[("title", "Renamed"), ("add_labels", "known")])
        .await;
    assert_eq!(edited["title"], "Renamed");
    assert!(titles(&edited["labels"]).is_empty(), "{edited}");

    let edited = reporter.put(&path, &[("add_labels", "known")]).await;
    assert_eq!(titles(&edited["labels"]), ["known"]);
}

// `app/finders/issuables/label_filter.rb`: `where(title: label_names)` is case-sensitive,
// and `labels/find_or_create_service.rb` finds by exact title, so `section::A` is another
// label than `Section::A`, created with `Label::DEFAULT_COLOR` `#6699cc`
// (`app/models/label.rb`).
#[tokio::test]
async fn label_titles_match_exactly_case_included() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    root.post(
        &format!("{ROADMAP}/labels"),
        &[("name", "Section::A"), ("color", "#ff0000")],
    )
    .await;
    root.post(
        &format!("{ROADMAP}/issues"),
        &[("title", "One"), ("labels", "Section::A")],
    )
    .await;

    let wrong_case = root
        .get(&format!("{ROADMAP}/issues?labels=section::A"))
        .await;
    assert!(wrong_case.as_array().unwrap().is_empty(), "{wrong_case}");
    let right = root
        .get(&format!("{ROADMAP}/issues?labels=Section::A"))
        .await;
    assert_eq!(right.as_array().unwrap().len(), 1);

    let other = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "Two"), ("labels", "section::A")],
        )
        .await;
    assert_eq!(titles(&other["labels"]), ["section::A"]);
    let created = root.get(&format!("{ROADMAP}/labels/section::A")).await;
    assert_eq!(created["color"], "#6699cc");
    // The labels API's conflict check is exact too (`find_by_title`).
    let (status, _) = root
        .call(
            Method::POST,
            &format!("{ROADMAP}/labels"),
            &[("name", "Section::A"), ("color", "#ff0000")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

// `app/policies/issue_policy.rb`: `rule { confidential & ~can_read_confidential }`
// prevents `read_issue` (`can_read_confidential`: author, assignees, Planner/Reporter+,
// admins), so `IssuesFinder` leaves the issue out of lists and `find_project_issue`
// answers the missing issue's 404, notes included.
#[tokio::test]
async fn a_confidential_issue_is_hidden_from_guests_and_non_members() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let (gid, guest) = root.new_user("guest").await;
    let (rid, reporter) = root.new_user("reporter").await;
    let (_, outsider) = root.new_user("outsider").await;
    root.add_member(ROADMAP, gid, 10).await;
    root.add_member(ROADMAP, rid, 20).await;
    let secret = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "Hush"), ("confidential", "true")],
        )
        .await;
    let own = guest
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "Mine"), ("confidential", "true")],
        )
        .await;
    let path = format!("{ROADMAP}/issues/{}", secret["iid"]);
    for who in [&guest, &outsider] {
        let listed = who.get(&format!("{ROADMAP}/issues")).await;
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["title"] != "Hush")
        );
        for p in [path.clone(), format!("{path}/notes")] {
            let (status, body) = who.call(Method::GET, &p, &[]).await;
            assert_eq!(
                (status, body["message"].as_str()),
                (StatusCode::NOT_FOUND, Some("404 Not found")),
                "{p}"
            );
        }
    }
    reporter.get(&path).await;
    guest.get(&format!("{ROADMAP}/issues/{}", own["iid"])).await;
}
