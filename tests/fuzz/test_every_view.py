"""Every view of the URLconf, fuzzed: whatever a member, a lead or a staff user sends in the
path, the query or the form (huge and negative numbers, NaN, NUL bytes, unicode digits, long
text, nested JSON, several values for one name), the answer is never a 500, and a refused
request (any 4xx) leaves the database as it was.

The routes are enumerated from the URLconf, so a new view fails here until it is listed in
ROUTES with the parameters its forms read.
"""

import copy
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_fsm_log.models import StateLog
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.api.models import ApiToken
from apps.api.services import create_personal_token
from apps.boards.models import SavedView
from apps.hooks.models import Delivery, Webhook
from apps.hooks.services import emit_event
from apps.notifications.models import Notification, NotificationSettings
from apps.notifications.services import outbox
from apps.people.models import Membership, Role, TimeOff
from apps.tasks import attachments
from apps.tasks import services as task_services
from apps.tasks.forms import TaskForm
from apps.tasks.models import Attachment, ChecklistItem, Comment, Task, WipLimits
from apps.workflows import definitions, exchange
from apps.workflows import services as workflow_services
from apps.workflows.models import Route, Run, Step, WorkflowTemplate

from ..factories import (
    MembershipFactory,
    PersonSkillFactory,
    SkillFactory,
    TeamFactory,
    UserFactory,
)

# Django's admin is fuzzed by its own tests (and team-scoped by the lead admin); these are
# Relay's pages.
# The REST API is fuzzed against its own schema by schemathesis (tests/api/test_schemathesis.py).
NOT_FUZZED_NAMESPACES = {"admin", "team_admin", "api"}

# name → (the methods it answers, its path kwargs as the world names them, the parameters its
# views and forms read)
GET, POST, BOTH = ["get"], ["post"], ["get", "post"]
BOARD_FILTERS = ["assignee", "skill", "due", "q", "run", "template", "lane", "show", "task"]
EDIT = [
    "title",
    "description",
    "due_at",
    "priority",
    "required_skill",
    "min_level",
    "reviewer",
    "version",
]
MOVE = ["from_state", "to", "action", "expected_state", "note", "outcome", "order", "ctx"]
HOOK_FIELDS = ["url", "events", "description", "is_active"]
ROUTES: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
    "home": (GET, {}, []),
    "healthz": (GET, {}, ["checks"]),
    "login": (BOTH, {}, ["username", "password", "next"]),
    "logout": (POST, {}, ["next"]),
    "notifications:inbox": (GET, {}, ["page"]),
    "notifications:open": (GET, {"pk": "notification"}, []),
    "notifications:mark_read": (POST, {"pk": "notification"}, []),
    "notifications:mark_all_read": (POST, {}, []),
    "notifications:badge": (GET, {}, []),
    "notifications:preferences": (
        BOTH,
        {},
        ["time_zone", "digest_enabled", "digest_hour", "channel_assigned", "channel_overdue"],
    ),
    "people:availability": (GET, {}, []),
    "api_tokens:tokens": (GET, {}, []),
    "api_tokens:create": (POST, {}, ["personal-name", "personal-scope", "personal-days"]),
    "api_tokens:create_service": (
        POST,
        {},
        ["service-team", "service-name", "service-scope", "service-days"],
    ),
    "api_tokens:revoke": (POST, {"pk": "api_token"}, []),
    "people:set_away": (POST, {}, ["away"]),
    "people:book_time_off": (POST, {}, ["first_day", "last_day", "reason"]),
    "people:cancel_time_off": (POST, {"pk": "time_off"}, []),
    "boards:task_list": (GET, {"team_slug": "team"}, [*BOARD_FILTERS, "state", "sort", "page"]),
    "tasks:task_create": (BOTH, {"team_slug": "team"}, list(TaskForm.Meta.fields)),
    "tasks:task_detail": (GET, {"pk": "task"}, []),
    "tasks:search": (GET, {}, ["q", "page"]),
    "tasks:quick_open": (GET, {}, ["q"]),
    "tasks:task_watch": (POST, {"pk": "task"}, ["watching", "ctx"]),
    "tasks:task_comment": (POST, {"pk": "task"}, ["body", "file"]),
    "tasks:task_attach": (POST, {"pk": "task"}, ["file", "ctx"]),
    "tasks:attachment": (GET, {"pk": "attachment"}, []),
    "tasks:attachment_remove": (POST, {"pk": "attachment"}, ["ctx"]),
    "tasks:task_edit": (BOTH, {"pk": "task"}, EDIT),
    "tasks:task_transition": (
        POST,
        {"pk": "task", "action": "action"},
        ["note", "expected_state", "outcome"],
    ),
    "tasks:task_tick": (POST, {"pk": "task", "item_pk": "checklist_item"}, ["done"]),
    "boards:board": (GET, {"team_slug": "team"}, BOARD_FILTERS),
    "boards:poll": (GET, {"team_slug": "team"}, BOARD_FILTERS),
    "boards:more_cards": (GET, {"team_slug": "team"}, [*BOARD_FILTERS, "state", "lane", "offset"]),
    "boards:wip_settings": (
        BOTH,
        {"team_slug": "team"},
        ["soft", "limit_todo", "limit_assigned", "limit_in_progress", "limit_in_review"],
    ),
    "boards:save_view": (POST, {"team_slug": "team"}, ["name", "query"]),
    "boards:delete_view": (POST, {"team_slug": "team", "view_pk": "saved_view"}, []),
    "boards:move": (POST, {"pk": "task"}, MOVE),
    "boards:card_menu": (GET, {"pk": "task"}, []),
    "boards:drawer": (GET, {"pk": "task"}, []),
    "boards:comment": (POST, {"pk": "task"}, ["body", "file"]),
    "boards:edit": (BOTH, {"pk": "task"}, EDIT),
    "boards:tick": (POST, {"pk": "task", "item_pk": "checklist_item"}, ["done"]),
    "boards:my_work": (GET, {}, []),
    "boards:work_links": (GET, {}, ["active"]),
    "boards:reviews": (GET, {}, []),
    "workflows:run_list": (GET, {"team_slug": "team"}, ["status"]),
    "workflows:run_start": (BOTH, {"team_slug": "team"}, ["template", "title", "inputs"]),
    "workflows:run_detail": (GET, {"pk": "run"}, []),
    "workflows:run_cancel": (POST, {"pk": "run"}, ["note"]),
    "workflows:run_retry": (POST, {"pk": "run"}, ["note"]),
    "assignment:panel": (GET, {"pk": "task"}, ["suggest", "page"]),
    "assignment:assign": (
        POST,
        {"pk": "task"},
        ["person", "override", "note", "expected_state", "page"],
    ),
    "assignment:workload": (GET, {"team_slug": "team"}, []),
    "assignment:auto_assign_pending": (POST, {"team_slug": "team"}, []),
    "insight:team": (GET, {"team_slug": "team"}, ["weeks", "start", "end", "csv"]),
    "insight:workflow": (
        GET,
        {"team_slug": "team", "template_slug": "template_slug"},
        ["last", "start", "end", "version"],
    ),
    "insight:workflow_csv": (
        GET,
        {"team_slug": "team", "template_slug": "template_slug"},
        ["last", "start", "end", "version"],
    ),
    "hooks:list": (BOTH, {"team_slug": "team"}, HOOK_FIELDS),
    "hooks:detail": (BOTH, {"team_slug": "team", "pk": "webhook"}, [*HOOK_FIELDS, "part"]),
    "hooks:secret": (POST, {"team_slug": "team", "pk": "webhook"}, ["rotate"]),
    "hooks:delete": (POST, {"team_slug": "team", "pk": "webhook"}, []),
    "hooks:redeliver": (
        POST,
        {"team_slug": "team", "pk": "webhook", "delivery_pk": "delivery"},
        [],
    ),
}

NUMBERS = [
    "0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "9223372036854775808",
    "9" * 30,
    "-" + "9" * 30,
    "1e999",
    "1.5",
    "NaN",
    "Infinity",
    "-Infinity",
    "²",
    "٣",
    "0x1f",
    " 7 ",
]
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n",
    "Title\r\nBcc: x@example.com",
    "x" * 10_001,
    "<script>alert(1)</script>",
    "{}",
    "[]",
    "null",
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": "\\u0000"}',
    '{"a": "\\ud800"}',
    "[" * 3000 + "]" * 3000,
    '{"a": ' * 3000 + "1" + "}" * 3000,
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "2026-02-30T10:00",
    "../../etc/passwd",
    "%00",
    "\u2028",
    "🙂" * 50,
]
SNAPSHOT = [
    Task,
    Run,
    Comment,
    ChecklistItem,
    Attachment,
    WorkflowTemplate,
    Step,
    Route,
    SavedView,
    WipLimits,
    NotificationSettings,
    Notification,
    ApiToken,
    StateLog,
    Membership,
    Webhook,
    Delivery,
]


@dataclass
class World:
    """A team with work in every state, and the people who fuzz it."""

    people: dict
    objects: dict[str, list[str]]
    good: dict[str, list[str]]


@pytest.fixture
def world(db) -> World:
    team = TeamFactory(name="Data Science", slug="data-science")
    TeamFactory(name="Elsewhere", slug="elsewhere")
    skills = {
        slug: SkillFactory(slug=slug, is_review_skill=slug == "ml-review")
        for slug in ("ml-training", "ml-review", "python")
    }
    people = {}
    for username, role in (("mia", Role.MEMBER), ("rita", Role.REVIEWER), ("leo", Role.LEAD)):
        people[username] = UserFactory(username=username, capacity=5)
        MembershipFactory(team=team, user=people[username], role=role)
        for skill in skills.values():
            PersonSkillFactory(user=people[username], skill=skill, level=4)
    people["stan"] = UserFactory(username="stan", is_staff=True)
    lead, member = people["leo"], people["mia"]
    template = exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    run = workflow_services.start_run(template=template, title="churn", owner=lead, by=lead)
    todo = task_services.create_task(team=team, title="Waiting", by=lead)
    assigned = task_services.create_task(team=team, title="Taken", by=lead)
    task_services.assign_to(task=assigned, assignee=member, by=lead)
    working = task_services.create_task(team=team, title="Working", by=lead, requires_review=True)
    task_services.assign_to(task=working, assignee=member, by=lead)
    task_services.start(task=working, by=member)
    reviewed = task_services.create_task(
        team=team, title="Review me", by=lead, requires_review=True
    )
    task_services.assign_to(task=reviewed, assignee=member, by=lead)
    task_services.start(task=reviewed, by=member)
    task_services.submit(task=reviewed, by=member)
    task_services.add_comment(task=todo, author=lead, body="First!")
    attachment = attachments.attach(
        task=todo,
        upload=SimpleUploadedFile("notes.txt", b"fuzz me", content_type="text/plain"),
        by=member,
    )
    item = ChecklistItem.objects.filter(task__run=run).first()
    saved = SavedView.objects.create(owner=member, team=team, name="Mine", query="assignee=me")
    [notification] = outbox.notify(kind="assigned", recipients=[member], key="fuzz:1", task=todo)
    time_off = TimeOff.objects.create(
        user=member,
        starts=timezone.now() + timedelta(days=3),
        ends=timezone.now() + timedelta(days=5),
    )
    api_token, _secret = create_personal_token(user=member, name="laptop")
    # Public IP literals: registering them needs no DNS, and nothing is sent (the test's
    # transaction never commits).
    webhook = Webhook.objects.create(
        team=team, url="https://93.184.215.14/relay", events=["run.started"], created_by=lead
    )
    with transaction.atomic():
        [delivery] = emit_event(team=team, event="run.started", payload={"run": {"id": run.pk}})
    tasks = [str(t.pk) for t in Task.objects.all()]
    objects = {
        "time_off": [str(time_off.pk), "0", "9" * 25],
        "team": [team.slug, "elsewhere", "no-such-team"],
        "template_slug": [template.slug, "no-such-workflow"],
        "task": [*tasks, "0", "2147483648", "9" * 25],
        "run": [str(run.pk), "0", "9" * 25],
        "notification": [str(notification.pk), "0", "9" * 25],
        "checklist_item": [str(item.pk) if item else "1", "0", "9" * 25],
        "saved_view": [str(saved.pk), "0", "9" * 25],
        "api_token": [str(api_token.pk), "0", "9" * 25],
        "attachment": [str(attachment.pk), "0", "9" * 25],
        "webhook": [str(webhook.pk), "0", "9" * 25],
        "delivery": [str(delivery.pk), "0", "9" * 25],
        "action": [*task_services.ACTIONS, "delete", "save"],
    }
    states = ["todo", "assigned", "in_progress", "in_review", "done", "on_hold", "cancelled"]
    ids = [*tasks, str(run.pk), str(template.pk)]
    # What each parameter means, so that one bad value can sit among good ones.
    good = {
        "personal-name": ["laptop"],
        "service-name": ["CI"],
        "personal-scope": ["read", "write"],
        "service-scope": ["read", "write"],
        "personal-days": ["7", "90"],
        "service-days": ["30"],
        "service-team": [str(team.pk)],
        "state": states,
        "from_state": states,
        "to": states,
        "expected_state": states,
        "show": states,
        "action": [*task_services.ACTIONS, "reorder"],
        "outcome": ["done", "approved", "changes_requested", "rejected", "passed", "failed"],
        "order": [",".join(tasks), tasks[0]],
        "run": [str(run.pk)],
        "task": tasks,
        "template": [str(template.pk), "ml-deployment"],
        "person": [str(p.pk) for p in people.values()],
        "assignee": [*people, "me", "none"],
        "required_skill": [str(s.pk) for s in skills.values()],
        "skill": list(skills),
        "lane": ["0", "assignee", "run", "template", "none", *ids],
        "offset": ["0", "50"],
        "page": ["1", "2", "task", "last"],
        "due": ["overdue", "soon"],
        "last": ["7", "30", "90"],
        "version": ["1", "2"],
        "status": ["running", "completed", "failed", "cancelled"],
        "ctx": ["board", "drawer", "mywork", "reviews", "page"],
        "active": ["board", "mywork", "reviews"],
        "time_zone": ["Europe/Berlin", "UTC"],
        "digest_hour": ["0", "8", "23"],
        "channel_assigned": ["immediate", "digest", "off"],
        "channel_overdue": ["immediate", "digest", "off"],
        "due_at": ["2026-12-24T10:00"],
        "inputs": ['{"model": "churn-v4", "metrics": {"auc": 0.9}}', ""],
        "query": ["assignee=me&lane=run", f"run={run.pk}"],
        "username": ["leo", "mia"],
        "password": ["pw-for-tests-1"],
        "next": ["/", "/my-work/", "https://evil.example/"],
        "checks": ["database", "database,broker", "outbox,stranded_runs,worker"],
        "url": ["https://93.184.215.14/hook", "http://127.0.0.1:8000/x", "ftp://x/"],
        "events": ["task.transitioned", "run.started", "step.waiting"],
        "is_active": ["on", ""],
        "part": ["log"],
        "rotate": ["1"],
    }
    return World(people=people, objects=objects, good=good)


def _snapshot() -> dict:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in SNAPSHOT}


def _url_names(patterns, namespace: str = "") -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            if inner in NOT_FUZZED_NAMESPACES:
                continue
            prefix = f"{namespace}{inner}:" if inner else namespace
            names |= _url_names(pattern.url_patterns, prefix)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(namespace + pattern.name)
    return names


bad = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
# Anything else (a title, a note, a limit) gets these as its good values.
PLAIN = ["1", "3", "on", "Train churn model", "Looks good to me."]


def _examples(params: list[str]) -> int:
    """More parameters, more examples: each should meet every kind of bad value."""
    base = hypothesis_settings.default.max_examples
    return max(10, min(base + base // 2, base // 8 * (len(params) + 1)))


# From the URLconf, not from ROUTES: a view added without its entry there fails (KeyError).
@pytest.mark.parametrize("name", sorted(_url_names(get_resolver().url_patterns)))
def test_no_input_makes_a_500_and_a_refusal_changes_nothing(world, name):
    methods, path_kwargs, params = ROUTES[name]
    anonymous = name in ("home", "login", "logout", "healthz")
    people = ["mia", "leo", "stan", *(["anonymous"] if anonymous else [])]

    def value_of(param):
        one = st.sampled_from(world.good.get(param, PLAIN)) | bad
        return one | st.lists(one, min_size=2, max_size=3)

    @hypothesis_settings(
        max_examples=_examples(params),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        kwargs=st.fixed_dictionaries(
            {arg: st.sampled_from(world.objects[what]) for arg, what in path_kwargs.items()}
        ),
        fields=st.fixed_dictionaries({}, optional={p: value_of(p) for p in [*params, "x"]}),
        method=st.sampled_from(methods),
        who=st.sampled_from(people),
        htmx=st.none()
        | st.fixed_dictionaries(
            {
                "target": st.sampled_from(["board-body", "drawer-slot", ""]),
                "page": st.fixed_dictionaries({}, optional={f: bad for f in BOARD_FILTERS}),
            }
        ),
    )
    def request_once(kwargs, fields, method, who, htmx):
        headers = {}
        if htmx is not None:
            query = urlencode(htmx["page"], doseq=True)
            headers = {
                "HX-Request": "true",
                "HX-Target": htmx["target"],
                "HX-Current-URL": f"http://testserver/teams/data-science/board/?{query}",
            }
        client = Client()
        if who != "anonymous":
            client.force_login(world.people[who])
        url = reverse(name, kwargs=kwargs)
        before = _snapshot()
        response = getattr(client, method)(url, fields, headers=headers)
        assert response.status_code < 500, (method, url, fields)
        if 400 <= response.status_code < 500:
            assert _snapshot() == before, (method, url, fields, response.status_code)

    request_once()
