"""What a notification's e-mail says: subject, headline, context, templates, headers."""

import email.policy
import hashlib
from email.headerregistry import HeaderRegistry
from email.policy import Policy
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from apps.core.text import single_line

from ..models import Kind, Notification


def message_id(*, key: str) -> str:
    """The same key gives the same Message-ID, so a resend is recognisably the same e-mail."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "relay.invalid"
    return f"<{digest}@{domain}>"


SUBJECTS = {
    Kind.ASSIGNED: "Assigned to you: {title}",
    Kind.REVIEW_REQUESTED: "Review requested: {title}",
    Kind.APPROVED: "Approved: {title}",
    Kind.CHANGES_REQUESTED: "Changes requested: {title}",
    Kind.REJECTED: "Rejected: {title}",
    Kind.RUN_FAILED: "Run failed: {run}",
    Kind.OVERDUE: "Overdue: {title}",
    Kind.UNASSIGNABLE: "Nobody can take: {title}",
    Kind.MENTIONED: "You were mentioned: {title}",
    Kind.COMMENTED: "New comment: {title}",
    Kind.DECIDED: "Decision: {title}",
    Kind.UNASSIGNED: "Taken off: {title}",
    Kind.RUN_COMPLETED: "Run completed: {run}",
    Kind.ESCALATED: "Escalated: {title}",
    Kind.DIGEST: "Your digest for {date}",
}


HEADLINES = {
    Kind.ASSIGNED: "{by} assigned a task to you.",
    Kind.REVIEW_REQUESTED: "{by} asks for your review.",
    Kind.APPROVED: "{by} approved your work.",
    Kind.CHANGES_REQUESTED: "{by} asks for changes to your work.",
    Kind.REJECTED: "{by} rejected your work.",
    Kind.RUN_FAILED: "A workflow run failed and needs attention.",
    Kind.OVERDUE: "A task of yours is past its due time.",
    Kind.UNASSIGNABLE: "Nobody on the team can take this task right now.",
    Kind.MENTIONED: "{by} mentioned you in a comment.",
    Kind.COMMENTED: "{by} commented on a task you watch.",
    Kind.DECIDED: "{by} {decision} a task you watch.",
    Kind.UNASSIGNED: "{by} took you off this task; it is no longer yours.",
    Kind.RUN_COMPLETED: "Your workflow run reached its end.",
    Kind.ESCALATED: "A task of your team ran out of its step's SLA.",
    Kind.DIGEST: "Here is your day in Relay.",
}


LOOP_BACK_SUBJECT = "Run sent back: {run}"
LOOP_BACK_HEADLINE = "A step failed and the run went back to an earlier step."
WENT_ON_SUBJECT = "Step failed, run goes on: {run}"
WENT_ON_HEADLINE = "A step failed and the run went on to the step for that case."


def email_context(*, notification: Notification) -> dict:
    payload = notification.payload or {}
    task = notification.task
    title = payload.get("title") or (task.title if task else "") or ""
    return {
        "notification": notification,
        "kind": notification.kind,
        "kind_label": notification.label,
        "recipient": notification.recipient,
        "task": task,
        "title": title,
        "by": payload.get("by", ""),
        "note": payload.get("note", ""),
        "run": payload.get("run", ""),
        "step": payload.get("step", ""),
        "reasons": payload.get("reasons", []),
        "payload": payload,
        "headline": (
            LOOP_BACK_HEADLINE
            if notification.is_loop_back
            else WENT_ON_HEADLINE
            if notification.went_on
            else HEADLINES.get(notification.kind, "{by}")
        ).format(by=payload.get("by") or "Relay", decision=payload.get("decision") or "decided"),
        "task_url": _link(task=task, path=payload.get("url", "")),
        "site_url": settings.SITE_URL,
        "inbox_url": f"{settings.SITE_URL}/notifications/",
        "settings_url": f"{settings.SITE_URL}/notifications/settings/",
    }


def _link(*, task, path: str) -> str:
    """Absolute link for the e-mail's button: the task, or a site path from the payload (a
    run page, say) when the notification is not about one task."""
    if task is not None:
        return f"{settings.SITE_URL}{task.get_absolute_url()}"
    if path.startswith("/") and not path.startswith("//"):
        return f"{settings.SITE_URL}{path}"
    return ""


class _CachedHeaderRegistry(HeaderRegistry):
    """The standard header registry builds a new class on every header lookup, which is a
    third of the cost of serialising an e-mail; the classes never change, so keep them.

    Headers whose value repeats from e-mail to e-mail (From, MIME-Version, each part's
    Content-Type and Content-Transfer-Encoding) are parsed once and folded once per policy:
    parsing and folding are most of what is left. A header is immutable once made (changing
    one replaces it), so sharing them between messages is safe."""

    REPEATING = frozenset({"from", "mime-version", "content-type", "content-transfer-encoding"})
    MAX_KEPT = 64

    def __init__(self):
        super().__init__()
        self._classes: dict[str, type] = {}
        self._kept: dict[tuple[str, str], object] = {}

    def __getitem__(self, name):
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = type(
                "_Folded" + name, (_FoldedOnce, super().__getitem__(name)), {}
            )
        return self._classes[key]

    def __call__(self, name, value):
        key = (name.lower(), value)
        if key[0] not in self.REPEATING or not isinstance(value, str):
            return super().__call__(name, value)
        header = self._kept.get(key)
        if header is None:
            header = super().__call__(name, value)
            if len(self._kept) < self.MAX_KEPT:  # a multipart boundary never repeats
                self._kept[key] = header
        return header


class _FoldedOnce:
    """A header that remembers how it folds under each kind of policy it was folded with."""

    def fold(self, *, policy):
        folds = self.__dict__.setdefault("_folds", {})
        # What folding reads from the policy (a generator may hand it a fresh clone each time).
        kind = (
            type(policy),
            policy.linesep,
            policy.max_line_length,
            policy.utf8,
            policy.refold_source,
            policy.cte_type,
        )
        if kind not in folds:
            folds[kind] = super().fold(policy=policy)
        return folds[kind]


_FAST_POLICIES: dict[int, tuple[Policy, Policy]] = {}


class RelayEmail(EmailMultiAlternatives):
    """Django's e-mail, serialised with the same policy but a cached header registry."""

    def message(self, *, policy=email.policy.default):
        if id(policy) not in _FAST_POLICIES:
            fast = policy.clone(header_factory=_CachedHeaderRegistry())
            _FAST_POLICIES[id(policy)] = (policy, fast)
        return super().message(policy=_FAST_POLICIES[id(policy)][1])


def build_email(*, notification: Notification) -> EmailMultiAlternatives:
    """Text and HTML versions from templates/emails/; the HTML one autoescapes user text."""
    context = email_context(notification=notification)
    subject = (
        LOOP_BACK_SUBJECT
        if notification.is_loop_back
        else WENT_ON_SUBJECT
        if notification.went_on
        else SUBJECTS.get(notification.kind, "{title}")
    ).format(
        title=context["title"] or context["kind_label"],
        run=context["run"] or context["title"],
        date=(notification.payload or {}).get("date", ""),
    )
    template = "digest" if notification.kind == Kind.DIGEST else "notification"
    message = RelayEmail(
        # A header is one line: a CR or LF left in it makes the message unbuildable.
        subject=single_line(f"[Relay] {subject}")[:200],
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={
            "Message-ID": message_id(key=notification.key),
            "X-Relay-Notification": notification.key,
        },
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    return message
