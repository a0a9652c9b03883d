"""A scripted python-gitlab workflow against the sandbox.

Usage: python_gitlab.py URL TOKEN. The sandbox must have a project `acme/roadmap` and a
user `drew`. Exits non-zero at the first behaviour that differs from GitLab's.
"""
import sys

import gitlab

url, token = sys.argv[1], sys.argv[2]
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


gl = gitlab.Gitlab(url, private_token=token)
gl.auth()
check(gl.user.username == "root", "the token belongs to root")

project = gl.projects.get("acme/roadmap")
check(project.path_with_namespace == "acme/roadmap", "project by path")
check(gl.projects.get(project.id).id == project.id, "project by id")
check(project.visibility == "public", "visibility")

# Issues across several pages.
for n in range(130):
    project.issues.create({"title": f"item {n}", "labels": ["handbook-sync", "even" if n % 2 == 0 else "odd"]})
everything = project.issues.list(get_all=True)
check(len(everything) == 130, f"get_all follows Link headers: {len(everything)}")
check(len(list(project.issues.list(iterator=True, per_page=50))) == 130, "iterator over pages of 50")
first_page = project.issues.list(per_page=20, page=1)
check(len(first_page) == 20, "one page")
evens = project.issues.list(labels=["handbook-sync", "even"], get_all=True)
check(len(evens) == 65, f"labels are ANDed: {len(evens)}")
check(len(project.issues.list(iids=[1, 2, 3], get_all=True)) == 3, "iids[]")

# Edit labels with add/remove, close and reopen.
issue = project.issues.get(1)
check(issue.title == "item 0", "issue by iid")
updated = project.issues.update(1, {"add_labels": "section::Marketing", "remove_labels": "even"})
check(sorted(updated["labels"]) == ["handbook-sync", "section::Marketing"], f"add/remove labels: {updated['labels']}")
issue = project.issues.get(1)
issue.state_event = "close"
issue.save()
check(project.issues.get(1).state == "closed", "closed")
check([i.iid for i in project.issues.list(state="closed", get_all=True)] == [1], "state=closed")
issue = project.issues.get(1)
issue.state_event = "reopen"
issue.save()
check(project.issues.get(1).state == "opened", "reopened")
drew = gl.users.list(username="drew")[0]
issue.assignee_ids = [drew.id]
issue.save()
check(project.issues.get(1).assignee["username"] == "drew", "assigned")

# Notes.
issue.notes.create({"body": "Handed over to @drew"})
notes = issue.notes.list(get_all=True)
check(len(notes) == 1 and notes[0].body == "Handed over to @drew", "notes")

# Labels.
label = project.labels.create({"name": "handed-over", "color": "#8E44AD", "description": "Handed over"})
check(label.name == "handed-over", "label created")
try:
    project.labels.create({"name": "handed-over", "color": "#8E44AD"})
    check(False, "a duplicate label is refused")
except gitlab.exceptions.GitlabCreateError as e:
    check(e.response_code == 409, f"duplicate label: {e.response_code}")
label = project.labels.get("handed-over")
label.color = "#000000"
label.save()
check(project.labels.get("handed-over").color == "#000000", "label edited")
names = {l.name for l in project.labels.list(get_all=True)}
check({"handbook-sync", "even", "odd", "section::Marketing", "handed-over"} <= names, f"labels: {names}")

# Boards and lists.
board = project.boards.create({"name": "Handbook: Product Manager"})
section = project.labels.get("section::Marketing")
board.lists.create({"label_id": section.id})
lists = board.lists.list(get_all=True)
check(len(lists) == 1 and lists[0].label["name"] == "section::Marketing", "board list")
check([b.name for b in project.boards.list(get_all=True)] == ["Handbook: Product Manager"], "boards")

# Repository files.
project.files.create({"file_path": "handbook/pm.md", "branch": "main", "content": "- one\n", "commit_message": "Add page"})
f = project.files.get(file_path="handbook/pm.md", ref="main")
check(f.decode() == b"- one\n", "file content")
first_blob = f.blob_id
f.content = "- one\n- two\n"
f.save(branch="main", commit_message="Add a bullet")
f = project.files.get(file_path="handbook/pm.md", ref="main")
check(f.blob_id != first_blob, "a new blob")
check(project.files.raw(file_path="handbook/pm.md", ref="main") == b"- one\n- two\n", "raw file")

# Errors.
try:
    gl.projects.get("nobody/nothing")
    check(False, "an unknown project is a 404")
except gitlab.exceptions.GitlabGetError as e:
    check(e.response_code == 404, "404")
bad = gitlab.Gitlab(url, private_token="wrong")
try:
    bad.auth()
    check(False, "a wrong token is refused")
except gitlab.exceptions.GitlabAuthenticationError as e:
    check(e.response_code == 401, "401")

print(f"python-gitlab {gitlab.__version__}: {checks} checks passed")
