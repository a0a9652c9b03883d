//! Groups: nested namespaces whose members are members of every project and subgroup
//! inside them (`app/models/group.rb`, `app/models/members/group_member.rb`;
//! `Project#team` counts the members of the project's group and its ancestors).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Member, Project, State};

/// A group, top-level or nested in another (`parent_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: u64,
    pub name: String,
    pub path: String,
    /// `parent/…/path`.
    pub full_path: String,
    pub parent_id: Option<u64>,
    pub visibility: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    /// Direct members of the group.
    pub members: Vec<Member>,
}

impl Group {
    /// The direct membership of `user_id`, if any.
    pub fn member(&self, user_id: u64) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user_id)
    }
}

impl State {
    /// The group with this id.
    pub fn group(&self, id: u64) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The group named by `id`: a numeric id or a (decoded) full path, any case.
    pub fn group_index(&self, id: &str) -> Option<usize> {
        match id.parse::<u64>() {
            Ok(n) => self.groups.iter().position(|g| g.id == n),
            Err(_) => self
                .groups
                .iter()
                .position(|g| g.full_path.eq_ignore_ascii_case(id)),
        }
    }

    /// The group `id` and its ancestors, innermost first.
    pub fn group_chain(&self, id: u64) -> Vec<&Group> {
        let mut chain = Vec::new();
        let mut next = Some(id);
        while let Some(group) = next.and_then(|id| self.group(id)) {
            // A loop in the data would be a bug; it must not hang a request.
            if chain.iter().any(|g: &&Group| g.id == group.id) {
                break;
            }
            chain.push(group);
            next = group.parent_id;
        }
        chain
    }

    /// The highest membership of `user_id` in group `id` or an ancestor
    /// (`Group#highest_group_member`), with the group it is in.
    pub fn highest_group_member(&self, id: u64, user_id: u64) -> Option<(&Group, &Member)> {
        self.group_chain(id)
            .into_iter()
            .filter_map(|g| g.member(user_id).map(|m| (g, m)))
            .max_by_key(|(_, m)| m.access_level)
    }

    /// `user_id`'s access level in `project`: the highest of its direct membership and
    /// its memberships in the project's group and that group's ancestors
    /// (`Project#team.max_member_access`).
    pub fn access_level(&self, project: &Project, user_id: u64) -> Option<u8> {
        let direct = project.member(user_id).map(|m| m.access_level);
        let inherited = project
            .namespace_id
            .and_then(|g| self.highest_group_member(g, user_id))
            .map(|(_, m)| m.access_level);
        direct.max(inherited)
    }

    /// Every member of `project`, direct and inherited, each once at their highest level
    /// (`GET /projects/:id/members/all`, `MembersFinder` with inherited members).
    pub fn all_members(&self, project: &Project) -> Vec<Member> {
        let mut all: Vec<Member> = project.members.clone();
        if let Some(group) = project.namespace_id {
            for g in self.group_chain(group) {
                for m in &g.members {
                    match all.iter_mut().find(|a| a.user_id == m.user_id) {
                        Some(a) if a.access_level < m.access_level => *a = m.clone(),
                        Some(_) => {}
                        None => all.push(m.clone()),
                    }
                }
            }
        }
        all
    }

    /// Gives projects of states saved before groups existed their namespace group: every
    /// namespace that is no user's becomes a group (made if missing).
    pub fn settle_namespaces(&mut self, now: DateTime<Utc>) {
        for i in 0..self.projects.len() {
            let project = &self.projects[i];
            if project.namespace_id.is_some() {
                continue;
            }
            let Some((namespace, _)) = project.path_with_namespace.rsplit_once('/') else {
                continue;
            };
            if self.users.iter().any(|u| u.username == namespace) {
                continue;
            }
            let namespace = namespace.to_owned();
            let group = self.ensure_group_path(&namespace, now);
            self.projects[i].namespace_id = Some(group);
        }
    }

    /// The group at `full_path`, made with its missing ancestors (public, without
    /// members: as the start-up configuration's namespaces); returns its id.
    pub fn ensure_group_path(&mut self, full_path: &str, now: DateTime<Utc>) -> u64 {
        let mut parent: Option<u64> = None;
        let mut path = String::new();
        for segment in full_path.split('/') {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(segment);
            let id = match self.group_index(&path) {
                Some(i) => self.groups[i].id,
                None => {
                    let id = self.next_id();
                    self.groups.push(Group {
                        id,
                        name: segment.to_owned(),
                        path: segment.to_owned(),
                        full_path: path.clone(),
                        parent_id: parent,
                        visibility: "public".to_owned(),
                        description: String::new(),
                        created_at: now,
                        members: Vec::new(),
                    });
                    id
                }
            };
            parent = Some(id);
        }
        parent.expect("a path has a segment")
    }
}
