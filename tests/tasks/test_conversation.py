"""A task's conversation: @mentions, watchers, and comments in a safe subset of Markdown."""

from http import HTTPStatus

import pytest
from django.core import mail

from apps.core.refusals import Forbidden
from apps.notifications.models import Kind, Notification
from apps.tasks import services, watches
from apps.tasks.markdown import render
from apps.tasks.models import TaskWatch


def told(kind, task=None):
    rows = Notification.objects.filter(kind=kind)
    if task is not None:
        rows = rows.filter(task=task)
    return sorted(rows.values_list("recipient__username", flat=True))


def in_review(task, member, lead):
    task = services.assign_to(task=task, assignee=member, by=lead)
    task = services.start(task=task, by=member)
    return services.submit(task=task, by=member)


# --- @mentions ---------------------------------------------------------------------------


def test_a_mention_tells_the_team_member_and_links_to_their_work(task, member, other_member):
    comment = services.add_comment(task=task, author=other_member, body="@mia can you look?")

    assert told(Kind.MENTIONED) == ["mia"]
    note = Notification.objects.get(kind=Kind.MENTIONED)
    assert note.payload["note"] == "@mia can you look?"  # e-mails show the text as typed
    assert 'class="mention"' in comment.body_html
    assert "/teams/data-science/board/?assignee=mia" in comment.body_html
    assert member.display_name in comment.body_html


def test_a_mention_is_sent_by_email_as_plain_text(
    task, member, other_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(task=task, author=other_member, body="**@mia** see `this`")
    (email,) = [m for m in mail.outbox if m.to == [member.email]]
    assert "mentioned you" in email.body
    assert "**@mia** see `this`" in email.body


def test_outsiders_and_unknown_names_stay_plain_text_and_hear_nothing(task, member, outsider):
    comment = services.add_comment(task=task, author=member, body="ask @olga or @nobody")

    assert told(Kind.MENTIONED) == []
    assert "<a" not in comment.body_html
    assert "@olga" in comment.body_html and "@nobody" in comment.body_html


def test_mentioning_yourself_tells_nobody(task, member):
    services.add_comment(task=task, author=member, body="note to @mia: remember")
    assert told(Kind.MENTIONED) == []


def test_a_mention_in_code_or_an_email_address_is_not_a_mention(task, member, other_member):
    services.add_comment(task=task, author=other_member, body="`@mia` and mail mia@mia.example")
    assert told(Kind.MENTIONED) == []


# --- watchers ----------------------------------------------------------------------------


def test_commenters_assignee_and_creator_hear_of_a_new_comment_but_not_the_author(
    task, member, other_member, reviewer, lead
):
    services.assign_to(task=task, assignee=member, by=lead)
    services.add_comment(task=task, author=reviewer, body="first look")
    assert told(Kind.COMMENTED) == ["leo", "mia"]  # creator and assignee; rita wrote it

    services.add_comment(task=task, author=other_member, body="second")
    # rita watches now, having commented; otto doesn't hear of his own comment.
    assert told(Kind.COMMENTED) == ["leo", "leo", "mia", "mia", "rita"]
    assert TaskWatch.objects.filter(task=task, watching=True).count() == 2


def test_unwatching_stops_comments_even_after_commenting_again(task, member, other_member, lead):
    services.add_comment(task=task, author=member, body="I'm in")
    services.set_watching(task=task, user=member, watching=False)
    services.set_watching(task=task, user=lead, watching=False)  # the creator opts out too
    services.add_comment(task=task, author=member, body="one more thing")
    services.add_comment(task=task, author=other_member, body="reply")

    assert told(Kind.COMMENTED) == ["leo"]  # mia's first comment, before both unwatched
    assert not watches.is_watching(task=task, user=member)
    assert watches.is_watching(task=task, user=other_member)


def test_watching_again_resumes(task, member, other_member, lead):
    services.set_watching(task=task, user=member, watching=True)
    services.set_watching(task=task, user=member, watching=False)
    services.set_watching(task=task, user=member, watching=True)
    services.add_comment(task=task, author=other_member, body="news")

    assert told(Kind.COMMENTED) == ["leo", "mia"]
    assert TaskWatch.objects.filter(task=task, user=member).count() == 1


def test_a_mentioned_watcher_hears_once(task, member, other_member):
    services.add_comment(task=task, author=member, body="watching this")
    services.add_comment(task=task, author=other_member, body="@mia done?")

    assert told(Kind.MENTIONED) == ["mia"]
    assert told(Kind.COMMENTED) == ["leo", "leo"]  # the creator; mia heard as mentioned only
    assert Notification.objects.filter(recipient=member).count() == 1


def test_watchers_hear_of_a_decision_but_not_the_doer_twice_nor_the_reviewer(
    task, member, other_member, reviewer, lead
):
    services.add_comment(task=task, author=other_member, body="following")
    task = in_review(task, member, lead)
    services.request_changes(task=task, by=reviewer, note="needs tests")

    assert told(Kind.CHANGES_REQUESTED) == ["mia"]  # the doer, told as before
    assert told(Kind.DECIDED) == ["leo", "otto"]  # watchers; not mia again, not rita
    decided = Notification.objects.filter(kind=Kind.DECIDED).first()
    assert decided.payload["decision"] == "asked for changes to"
    assert decided.payload["note"] == "needs tests"


def test_a_former_team_member_is_no_watcher(task, member, other_member):
    services.add_comment(task=task, author=member, body="hi")
    member.memberships.all().delete()
    services.add_comment(task=task, author=other_member, body="anyone?")
    assert "mia" not in told(Kind.COMMENTED)


def test_only_team_members_watch(task, outsider):
    with pytest.raises(Forbidden):
        services.set_watching(task=task, user=outsider, watching=True)
    assert not TaskWatch.objects.exists()


def test_the_toggle_answers_with_itself(task, member, client_for):
    client = client_for(member)
    response = client.post(
        f"/tasks/{task.pk}/watch/", {"watching": "1", "ctx": "drawer"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert 'id="drawer-watch"' in html and "Unwatch" in html
    assert watches.is_watching(task=task, user=member)

    response = client.post(f"/tasks/{task.pk}/watch/", {"watching": "0"}, HTTP_HX_REQUEST="true")
    assert ">Watch<" in response.content.decode()
    assert not watches.is_watching(task=task, user=member)


# --- Markdown ----------------------------------------------------------------------------


def html_of(body):
    return render(body, link=lambda name: None).html


def test_markdown_subset_renders():
    html = html_of("**bold** *it* `code`\n\n- one\n- two\n\n> quoted\n\n```\nx < y\n```")
    for fragment in (
        "<strong>bold</strong>",
        "<em>it</em>",
        "<code>code</code>",
        "<li>one</li>",
        "<blockquote>",
        "<pre><code>x &lt; y",
    ):
        assert fragment in html


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="https://e.example" onclick="alert(1)">x</a>',
        "<div style='color:red'>raw</div>",
    ],
)
def test_raw_html_is_shown_as_text_never_as_markup(body):
    html = html_of(body)
    for tag in ("<script", "<img", "<div", "<a"):
        assert tag not in html
    assert html.startswith("<p>&lt;")  # shown as the text that was typed


@pytest.mark.parametrize(
    "body",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html,hi)",
        "[x](vbscript:msgbox)",
        "<javascript:alert(1)>",
    ],
)
def test_only_http_https_and_mailto_links_survive(body):
    assert "href" not in html_of(body)


def test_links_get_nofollow_noopener():
    html = html_of("[site](https://e.example) [me](mailto:a@e.example)")
    assert html.count('rel="nofollow noopener"') == 2
    assert 'href="https://e.example"' in html and 'href="mailto:a@e.example"' in html


def test_images_are_not_shown():
    assert "<img" not in html_of("![chart](https://e.example/chart.png)")


def test_comments_show_their_rendered_markdown_on_the_task_page(task, member, client_for):
    services.add_comment(task=task, author=member, body="see <script>x</script> **this**")
    html = client_for(member).get(task.get_absolute_url()).content.decode()
    assert "<strong>this</strong>" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
