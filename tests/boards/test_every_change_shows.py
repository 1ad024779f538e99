"""Whatever changes a task — any service, the model saved as the admin does, a queryset's
update() — the board (whose grid is cached per team version), its poll, the drawer, the queues
and the header counts show it at once: the database bumps the team's and the people's version
counters with the change (apps.people.version_triggers), and everything cached or 304'd is keyed
on them. Each case warms the cache and the poll's ETag first, then changes one thing, then
looks where a person would."""

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.assignment.services.batch import auto_assign_pending
from apps.assignment.services.single import assign
from apps.boards import services as board_services
from apps.notifications.models import Notification
from apps.notifications.services.inbox import mark_all_read
from apps.people import services as people_services
from apps.people.models import Skill
from apps.tasks import attachments, edits, services
from apps.tasks.models import State, Task

from ..factories import PersonSkillFactory, SkillFactory
from ..html import text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(team, member, lead, reviewer, make_task):
    skill = SkillFactory(slug="python", name="Python")
    PersonSkillFactory(user=member, skill=skill, level=3)
    work = make_task(title="Train churn model", requires_review=True, checklist=["Split data"])
    work.required_skill = skill
    work.save()
    other = make_task(title="Write the report")
    return SimpleNamespace(
        team=team, member=member, lead=lead, reviewer=reviewer, task=work, other=other, skill=skill
    )


def _assigned(w):
    services.assign_to(task=w.task, assignee=w.member, by=w.lead)


def _started(w):
    _assigned(w)
    services.start(task=_fresh(w.task), by=w.member)


def _submitted(w):
    _started(w)
    services.submit(task=_fresh(w.task), by=w.member)


def _fresh(task):
    return Task.objects.get(pk=task.pk)


# name: (prepare, change, page, expected text there afterwards)
CASES = {
    "create": (
        None,
        lambda w: services.create_task(team=w.team, title="Brand new", by=w.lead),
        "board",
        "Brand new",
    ),
    "assign": (None, _assigned, "mywork", "Train churn model"),
    "auto-assign one": (
        lambda w: (setattr(w.task, "required_skill", None), w.task.save()),
        lambda w: assign(task=_fresh(w.task), by=w.lead),
        "board-col-assigned",
        "Train churn model",
    ),
    "auto-assign the team": (
        lambda w: Task.objects.filter(pk=w.task.pk).update(required_skill=None),
        lambda w: auto_assign_pending(team=w.team, by=w.lead),
        "board-col-assigned",
        "Train churn model",
    ),
    "start": (
        _assigned,
        lambda w: services.start(task=_fresh(w.task), by=w.member),
        "board-col-in_progress",
        "Train churn model",
    ),
    "submit": (
        _started,
        lambda w: services.submit(task=_fresh(w.task), by=w.member),
        "reviews",
        "Train churn model",
    ),
    "approve": (
        _submitted,
        lambda w: services.approve(task=_fresh(w.task), by=w.reviewer),
        "board-col-done",
        "Train churn model",
    ),
    "request changes": (
        _submitted,
        lambda w: services.request_changes(task=_fresh(w.task), by=w.reviewer, note="Redo"),
        "board-col-in_progress",
        "Train churn model",
    ),
    "hold": (None, lambda w: services.hold(task=_fresh(w.task), by=w.lead), "drawer", "On hold"),
    "cancel": (
        None,
        lambda w: services.cancel(task=_fresh(w.task), by=w.lead),
        "drawer",
        "Cancelled",
    ),
    "edit": (
        None,
        lambda w: edits.edit_task(
            task=_fresh(w.task),
            by=w.lead,
            version=edits.version_of(_fresh(w.task)),
            title="Retitled",
        ),
        "board",
        "Retitled",
    ),
    "comment": (
        None,
        lambda w: services.add_comment(task=w.task, author=w.lead, body="Nice split"),
        "drawer",
        "Nice split",
    ),
    "checklist tick": (
        None,
        lambda w: board_services.tick(item=w.task.checklist.get(), by=w.lead, done=True),
        "board",
        "☑ 1/1",
    ),
    "attach": (
        None,
        lambda w: attachments.attach(
            task=w.task,
            by=w.lead,
            upload=SimpleUploadedFile("notes.txt", b"some notes", content_type="text/plain"),
        ),
        "drawer",
        "notes.txt",
    ),
    "WIP limits": (
        None,
        lambda w: board_services.save_wip_limits(
            team=w.team, by=w.lead, limits={State.IN_PROGRESS: 7}, soft=False
        ),
        "board",
        "0/7",
    ),
    "model save (the admin's)": (
        None,
        lambda w: (setattr(w.task, "title", "Saved by admin"), w.task.save()),
        "board",
        "Saved by admin",
    ),
    "queryset update": (
        None,
        lambda w: Task.objects.filter(pk=w.task.pk).update(title="Bulk retitled"),
        "board",
        "Bulk retitled",
    ),
    "member renamed": (
        _assigned,
        lambda w: (setattr(w.member, "first_name", "Quentin"), w.member.save()),
        "board",
        'title="Quentin',
    ),
    "skill renamed": (
        None,
        lambda w: Skill.objects.filter(pk=w.skill.pk).update(name="Snake charming"),
        "board",
        "Snake charming",
    ),
    "away": (None, lambda w: people_services.set_away(user=w.member, is_away=True), "poll", ""),
    "inbox read": (
        _assigned,  # the assignment told the member
        lambda w: mark_all_read(user=w.member),
        "header-unread",
        "",
    ),
}


def _page(client, w, page):
    board = reverse("boards:board", args=[w.team.slug])
    if page.startswith("board"):
        html = client.get(board).content.decode()
        if page.startswith("board-col-"):
            state = page.removeprefix("board-col-")
            return html.split(f'id="cell-0-{state}"')[1].split("</ul>")[0]
        return html
    if page == "drawer":
        return client.get(reverse("boards:drawer", args=[w.task.pk])).content.decode()
    if page == "mywork":
        return client.get(reverse("boards:my_work")).content.decode()
    if page == "reviews":
        return client.get(reverse("boards:reviews")).content.decode()
    return client.get(board).content.decode()


@pytest.mark.parametrize("case", CASES)
def test_every_change_shows_on_the_board_drawer_queues_and_counts(case, world, client_for):
    prepare, change, page, expected = CASES[case]
    w = world
    if prepare:
        prepare(w)
    viewer = {"reviews": w.reviewer}.get(page, w.member)
    client = client_for(viewer)
    poll = reverse("boards:poll", args=[w.team.slug])
    before = _page(client, w, page)  # warms the board's cached grid
    if expected:
        assert expected not in before
    etag = client.get(poll)["ETag"]
    assert client.get(poll, headers={"If-None-Match": etag}).status_code == 304
    unread = Notification.objects.filter(recipient=w.member, read_at__isnull=True).count()

    change(w)

    changed = client.get(poll, headers={"If-None-Match": etag})
    assert changed.status_code == 200, f"{case}: the poll still said 304"
    if expected:
        assert expected in _page(client, w, page), f"{case}: not shown on {page}"
    if page == "header-unread":
        assert unread and 'data-testid="unread-count"' not in changed.content.decode()


def test_the_header_counts_follow_an_assignment(world, client_for):
    client = client_for(world.member)
    links = reverse("boards:work_links")
    assert 'data-testid="my-work-count"' not in client.get(links).content.decode()
    _assigned(world)
    assert text_of(client.get(links).content.decode(), testid="my-work-count") == "1"
