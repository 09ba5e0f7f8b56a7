"""The main navigation: the links each role sees, grouped Coursework / Compute / Community /
Me so that it fits one row at 1366 px and folds into one menu on a phone (issue 13: 16
student and 19 staff links wrapped onto two rows).

The lists are module-level so the community pages can add their links
(``views.community_index.extend_navigation``).
"""

from __future__ import annotations

STUDENT_NAV = [
    ("/", "Dashboard"),
    ("/schedule", "Schedule"),
    ("/assignments", "Assignments"),
    ("/grade", "My grade"),
    ("/group", "Group"),
    ("/nodes", "Nodes"),
    ("/checkoffs", "Checkoffs"),
    ("/peer-review", "Peer review"),
    ("/runs", "Lab runs"),
    ("/playground", "Playground"),
    ("/account", "Account"),
]
STAFF_NAV = [
    ("/staff", "Staff"),
    ("/staff/roster", "Roster"),
    ("/staff/groups", "Groups"),
    ("/staff/nodes", "Node board"),
    ("/staff/assignments", "Hand-ins & scores"),
    ("/staff/grades", "Grade book"),
    ("/staff/slack", "Slack days"),
    ("/staff/scribes", "Scribes & pairings"),
    ("/staff/peer-reviews", "Peer reviews"),
    ("/staff/checkoffs", "Checkoffs"),
    ("/schedule", "Schedule"),
    ("/runs", "Lab runs"),
    ("/playground", "Playground"),
    ("/staff/settings", "Course settings"),
    ("/account", "Account"),
]
# The navigation's groups (issue 13: 16–19 links wrapped onto two rows). A link not named
# here stands on its own at the front (Dashboard, Staff).
NAV_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Coursework",
        (
            "/schedule",
            "/assignments",
            "/grade",
            "/checkoffs",
            "/peer-review",
            "/project",
            "/lectures",
            "/staff/assignments",
            "/staff/grades",
            "/staff/slack",
            "/staff/checkoffs",
            "/staff/peer-reviews",
            "/staff/scribes",
            "/staff/project",
            "/staff/scribe-notes",
        ),
    ),
    ("Compute", ("/nodes", "/runs", "/playground", "/staff/nodes")),
    (
        "Community",
        (
            "/qa",
            "/questionnaire",
            "/check-in",
            "/participation",
            "/staff/roster",
            "/staff/groups",
            "/staff/attendance",
            "/staff/participation",
        ),
    ),
    ("Me", ("/group", "/account", "/staff/settings")),
)


def grouped_navigation(nav: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``nav`` as (group, links) in the order of :data:`NAV_GROUPS`; ungrouped links first,
    each as a group of one with an empty name."""
    group_of = {href: name for name, hrefs in NAV_GROUPS for href in hrefs}
    single = [("", [link]) for link in nav if link[0] not in group_of]
    groups = [
        (name, [link for link in nav if group_of.get(link[0]) == name]) for name, _ in NAV_GROUPS
    ]
    return single + [(name, links) for name, links in groups if links]
