"""Searching the tasks a person can see: title, description and comments, best match first.

PostgreSQL does it with full-text search: a task's title (weight A) and description (weight
B), and each comment's body (weight C), are tsvectors that expression GIN indexes hold
(migration 0005), so a word in a comment is found without a denormalised column that every
service writing a task or a comment would have to keep up to date. The rank is the task's own
plus its best comment's, so a title hit outranks a description hit, which outranks a comment
hit. Snippets come from `ts_headline`, stemming included ("deploying" finds "deploy").

A task matches when all the query's words are in its own text, or all are in one of its
comments (each is a document of its own: that is what keeps the indexes usable).

SQLite (development, most tests) has no such thing: it matches the same way with a
case-insensitive LIKE per word and field, and orders by the same weights (a word in the title
counts 4, in the description 2, in a matching comment 1).

Either way the visibility rule is `selectors.visible_tasks`: never another team's task.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.people.models import User

from .models import Comment, Task
from .selectors import visible_tasks

# The text search configuration of the indexes and the queries: they must agree, or the GIN
# indexes are not used.
CONFIG = "english"
# The longest query the forms accept (a search box, not an essay).
MAX_QUERY_LENGTH = 100
# On SQLite, the words of a query that are looked for (each one a LIKE over three fields).
MAX_WORDS = 8
# What ts_headline wraps a hit in: private-use characters no text typed in Relay will hold
# where it matters, turned into <mark> only after the snippet has been escaped.
_START, _STOP = "\ue000", "\ue001"
_MARKED = re.compile(f"{_START}(.*?){_STOP}", re.DOTALL)
# Words of a query on SQLite: letters and digits (websearch's quotes and minus signs dropped).
_WORD = re.compile(r"\w+")
# A snippet's length on SQLite, in characters around the first hit.
_SNIPPET_BEFORE, _SNIPPET_AFTER = 60, 160


def task_vector() -> SearchVector:
    """The indexed vector of a task's own text (migration 0005 indexes this very expression)."""
    return SearchVector("title", weight="A", config=CONFIG) + SearchVector(
        "description", weight="B", config=CONFIG
    )


def comment_vector() -> SearchVector:
    """The indexed vector of a comment (migration 0005 indexes this very expression)."""
    return SearchVector("body", weight="C", config=CONFIG)


@dataclass(frozen=True)
class Hit:
    """One result as the pages show it: the task, its title and a snippet with the hits
    marked (escaped text and <mark> only), and where the snippet comes from."""

    task: Task
    title: SafeString
    snippet: SafeString
    source: str  # "description", "comment" or "" (nothing to quote)


def search_tasks(*, user: User, text: str) -> QuerySet[Task]:
    """The tasks `user` can see that match `text`, the best match first (then the most
    recently changed). Empty for a query with nothing to look for."""
    text = text.strip()[:MAX_QUERY_LENGTH]
    tasks = visible_tasks(user).select_related("team", "assignee")
    if not text:
        return tasks.none()
    if connection.vendor == "postgresql":
        return _postgres(tasks, text)
    return _fallback(tasks, text)


def hits(tasks: Iterable[Task], text: str) -> list[Hit]:
    """The results `search_tasks` found, with their snippets (no query of their own)."""
    if connection.vendor == "postgresql":
        return [_postgres_hit(task) for task in tasks]
    words = _words(text)
    return [_fallback_hit(task, words) for task in tasks]


# --- PostgreSQL ------------------------------------------------------------------------------


def _postgres(tasks: QuerySet[Task], text: str) -> QuerySet[Task]:
    query = SearchQuery(text, search_type="websearch", config=CONFIG)
    own_hits = Task.objects.annotate(vector=task_vector()).filter(vector=query)
    comment_hits = Comment.objects.annotate(vector=comment_vector()).filter(vector=query)
    best_comment = (
        comment_hits.filter(task=OuterRef("pk"))
        .annotate(rank=SearchRank(F("vector"), query))
        .order_by("-rank", "-created_at", "-pk")
    )
    headline = {"config": CONFIG, "start_sel": _START, "stop_sel": _STOP}
    # The ids come from a UNION of the two index scans (an OR of the two conditions would
    # read every task instead); visibility and ranking are then over those few.
    matching = own_hits.values("pk").union(comment_hits.values("task_id"))
    return (
        tasks.filter(pk__in=matching)
        .annotate(
            rank=SearchRank(task_vector(), query)
            + Coalesce(
                Subquery(best_comment.values("rank")[:1]), Value(0.0), output_field=FloatField()
            ),
            title_headline=SearchHeadline("title", query, highlight_all=True, **headline),
            description_headline=SearchHeadline(
                "description", query, max_words=30, min_words=12, **headline
            ),
            comment_headline=Subquery(
                best_comment.annotate(
                    headline=SearchHeadline("body", query, max_words=30, min_words=12, **headline)
                ).values("headline")[:1]
            ),
        )
        .order_by("-rank", "-updated_at", "-pk")
    )


def _postgres_hit(task: Task) -> Hit:
    description = task.description_headline or ""
    if _START in description:
        snippet, source = description, "description"
    elif task.comment_headline:
        snippet, source = task.comment_headline, "comment"
    else:
        snippet, source = "", ""
    return Hit(
        task, _from_headline(task.title_headline or task.title), _from_headline(snippet), source
    )


def _from_headline(headline: str) -> SafeString:
    """ts_headline's output as HTML: all of it escaped, then the marked stretches in <mark>;
    a stray marker (typed into the text itself) is dropped."""
    escaped = _MARKED.sub(lambda m: f"<mark>{m.group(1)}</mark>", escape(headline))
    return mark_safe(escaped.replace(_START, "").replace(_STOP, ""))


# --- SQLite and anything else ----------------------------------------------------------------


def _words(text: str) -> list[str]:
    unique = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    return list(unique)[:MAX_WORDS]


def _fallback(tasks: QuerySet[Task], text: str) -> QuerySet[Task]:
    """As PostgreSQL matches: every word in the task's title or description, or every word
    in one of its comments."""
    words = _words(text)
    if not words:
        return tasks.none()
    own_text, in_one_comment, rank = Q(), Q(), Value(0)
    for word in words:
        own_text &= Q(title__icontains=word) | Q(description__icontains=word)
        in_one_comment &= Q(body__icontains=word)
        rank = rank + _count_if(Q(title__icontains=word), 4)
        rank = rank + _count_if(Q(description__icontains=word), 2)
    comments = Comment.objects.filter(in_one_comment, task=OuterRef("pk")).order_by(
        "-created_at", "-pk"
    )
    return (
        tasks.alias(commented=Exists(comments))
        .filter(own_text | Q(commented=True))
        .annotate(
            rank=rank + _count_if(Q(commented=True), len(words)),
            comment_text=Subquery(comments.values("body")[:1]),
        )
        .order_by("-rank", "-updated_at", "-pk")
    )


def _count_if(condition: Q, weight: int) -> Case:
    return Case(When(condition, then=Value(weight)), default=Value(0), output_field=IntegerField())


def _fallback_hit(task: Task, words: list[str]) -> Hit:
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    if pattern.search(task.description):
        snippet, source = _excerpt(task.description, pattern), "description"
    elif task.comment_text:
        snippet, source = _excerpt(task.comment_text, pattern), "comment"
    else:
        snippet, source = SafeString(""), ""
    return Hit(task, _marked(task.title, pattern), snippet, source)


def _excerpt(text: str, pattern: re.Pattern) -> SafeString:
    """Some words either side of the first hit, the hits marked."""
    found = pattern.search(text)
    start = max(0, found.start() - _SNIPPET_BEFORE) if found else 0
    end = min(len(text), start + _SNIPPET_BEFORE + _SNIPPET_AFTER)
    if start > 0:
        start = text.find(" ", start, found.start() if found else start) + 1 or start
    piece = " ".join(text[start:end].split())
    return mark_safe(
        ("… " if start > 0 else "") + _marked(piece, pattern) + (" …" if end < len(text) else "")
    )


def _marked(text: str, pattern: re.Pattern) -> SafeString:
    """`text` escaped, each match of `pattern` in <mark>."""
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))
