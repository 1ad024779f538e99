"""A Content-Security-Policy on every response, and pages that need nothing it forbids.

The policy allows scripts and styles from Relay's own files only: a page with an inline script,
an on*= handler, a style= attribute or a <style> element would be broken by it in the browser
(tests/e2e/test_csp.py watches a browser for that), so every page of the URLconf, the admin's
included, is read here for them.
"""

from html.parser import HTMLParser
from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import transaction
from django.test import RequestFactory
from django.urls import URLResolver, get_resolver, reverse

from apps.hooks.models import Webhook
from apps.hooks.services import emit_event
from apps.notifications.models import Notification
from apps.people.models import Team, User
from apps.tasks.models import ChecklistItem, State
from apps.workflows.admin import team_admin_site
from apps.workflows.models import Run, RunStatus

HEADER = "Content-Security-Policy"


class _Forbidden(HTMLParser):
    """Collects what the policy refuses: inline scripts, handlers, style attributes and elements,
    javascript: URLs, and htmx's ways of running code from markup (hx-on, js: values)."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            self.found.append("an inline <script>")
        if tag == "style":
            self.found.append("a <style> element")
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            elif name == "style":
                self.found.append(f'<{tag} style="{value}">')
            elif name.startswith(("hx-on", "data-hx-on")):
                self.found.append(f"<{tag} {name}=…>")
            elif value.lower().startswith("javascript:") or (
                name in ("hx-vals", "hx-headers") and value.startswith("js:")
            ):
                self.found.append(f'<{tag} {name}="{value}">')

    handle_startendtag = handle_starttag


def forbidden_markup(html: str) -> list[str]:
    parser = _Forbidden()
    parser.feed(html)
    return parser.found


ADMIN_SITES = {"admin", "team_admin"}
# The REST API answers JSON (its docs page is read by its own test below); schemathesis runs
# every operation against the schema (tests/api/test_schemathesis.py).
JSON_NAMESPACES = {"api"}


def app_routes(patterns=None, namespace=None):
    """(url name, its converters' names) for every view of the URLconf but the admin sites'
    (their pages are read by the admin test below)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace not in ADMIN_SITES | JSON_NAMESPACES:
                yield from app_routes(pattern.url_patterns, pattern.namespace or namespace)
        elif pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, list(getattr(pattern.pattern, "converters", {}))


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    lead = User.objects.get(username="ada")
    team = Team.objects.get(memberships__user=lead, memberships__role="lead")
    item = ChecklistItem.objects.filter(task__team=team, task__state=State.TODO).first()
    run = Run.objects.filter(template__team=team, status=RunStatus.RUNNING).first()
    return {
        "lead": lead,
        "team_slug": team.slug,
        "task": item.task.pk,
        "item_pk": item.pk,
        "run": run.pk,
        "template_slug": run.template.slug,
        "notification": Notification.objects.filter(recipient=lead).first().pk,
        "token": personal_token(lead),
        **_webhook_with_a_delivery(team, lead),
    }


def personal_token(user) -> int:
    from apps.api.services import create_personal_token

    token, _secret = create_personal_token(user=user, name="laptop")
    return token.pk


def _webhook_with_a_delivery(team, lead) -> dict:
    """The hook pages show the log: one delivery written, never sent (no commit runs it)."""
    hook = Webhook.objects.create(
        team=team, url="https://93.184.215.14/relay", events=["run.started"], created_by=lead
    )
    with transaction.atomic():
        [delivery] = emit_event(team=team, event="run.started", payload={"run": {"id": 1}})
    return {"webhook": hook.pk, "delivery_pk": delivery.pk}


def url_for(name, converters, demo):
    kwargs = {}
    for converter in converters:
        if converter == "pk":
            kind = {
                "workflows": "run",
                "notifications": "notification",
                "api_tokens": "token",
                "hooks": "webhook",
            }.get(name.split(":")[0], "task")
            kwargs["pk"] = demo[kind]
        elif converter == "action":
            kwargs["action"] = "start"
        elif converter == "view_pk":
            kwargs["view_pk"] = 1
        else:
            kwargs[converter] = demo[converter]
    return reverse(name, kwargs=kwargs)


def assert_policy(response, url):
    policy = response.headers.get(HEADER, "")
    assert "script-src 'self'" in policy, f"{url}: {HEADER} is {policy!r}"
    assert "style-src 'self'" in policy, f"{url}: {HEADER} is {policy!r}"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, policy


def forbidden_on(response) -> list[str]:
    if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
        return forbidden_markup(response.content.decode())
    return []


def test_every_page_of_the_app_carries_the_policy_and_needs_nothing_it_forbids(client, demo):
    client.force_login(demo["lead"])
    seen, problems = 0, {}
    for name, converters in app_routes():
        url = url_for(name, converters, demo)
        extras = {"": [""], "boards:board": ["", f"?task={demo['task']}"]}.get(name, [""])
        for query in {"workflows:run_start": ["", "?template=1"]}.get(name, extras):
            for htmx in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = client.get(url + query, **htmx)
                assert_policy(response, url + query)
                if found := forbidden_on(response):
                    problems[url + query] = found
                seen += response.status_code == 200
    assert problems == {}
    assert seen > 40  # the pages did render, not only refuse


def test_the_api_docs_carry_the_policy_and_load_only_relays_own_files(client, demo):
    """/api/docs is django-ninja's Swagger UI from Relay's static files (no CDN); its one
    inline <script> is the settings as JSON, which no browser runs."""
    client.force_login(demo["lead"])
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert_policy(response, "/api/docs")
    html = response.content.decode()
    found = [f for f in forbidden_markup(html) if f != "an inline <script>"]
    assert found == []
    assert html.count("<script") == html.count('<script src="/static/') + html.count(
        '<script type="application/json"'
    )
    assert "https://" not in html.split("</head>")[0]


def test_the_login_and_lockout_pages_carry_the_policy(client, demo):
    response = client.get(reverse("login"))
    assert_policy(response, "/login/")
    assert forbidden_on(response) == []
    for i in range(5):
        response = client.post(reverse("login"), {"username": "ada", "password": f"wrong-{i}"})
    assert response.status_code == 429
    assert_policy(response, "lockout")
    assert forbidden_markup(response.content.decode()) == []


def admin_urls(user, site=admin.site):
    """A site's index, and every registered model's list, add and change pages."""
    request = RequestFactory().get("/admin/")
    request.user = user
    yield reverse(f"{site.name}:index")
    yield reverse(f"{site.name}:workflows_workflowtemplate_import")
    for model, model_admin in site._registry.items():
        prefix = f"{site.name}:{model._meta.app_label}_{model._meta.model_name}"
        yield reverse(f"{prefix}_changelist")
        if model_admin.has_add_permission(request):
            yield reverse(f"{prefix}_add")
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            yield reverse(f"{prefix}_change", args=[first.pk])


def admin_problems(client, urls) -> dict[str, list[str]]:
    """Each admin page opens, with the policy, and what it needs that the policy forbids."""
    problems = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_policy(response, url)
        if found := forbidden_on(response):
            problems[url] = found
    return problems


def test_every_admin_page_carries_the_policy_and_needs_nothing_it_forbids(client, demo):
    superuser = User.objects.get(username="admin")
    client.force_login(superuser)
    urls = list(admin_urls(superuser))
    assert admin_problems(client, urls) == {}
    assert len(urls) > 2 * len(admin.site._registry)  # lists, and add or change forms


def test_every_workflow_admin_page_carries_the_policy_and_needs_nothing_it_forbids(client, demo):
    client.force_login(demo["lead"])
    urls = list(admin_urls(demo["lead"], site=team_admin_site))
    assert admin_problems(client, urls) == {}
    assert any("/change/" in url for url in urls)  # a template of the lead's team, opened
