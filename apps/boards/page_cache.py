"""A person's own pages answered again from this process's memory while nothing they show changed.

The task page, the drawer, the team task list, My work and the review queue are read far
more often than anything on them changes, and most of their cost is not their own query but
the session and user loads, eight middleware and the template. `PageCacheMiddleware` (just
after FastPollMiddleware, before SessionMiddleware) keeps the HTML the normal view produced
for one session and one exact request, and answers the same GET again from ONE query (the
session row, the person's row and the person's versions, apps.people.versions), as long as

- the session row, unexpired, still holds exactly the data it held when the page was made,
  and the person's password hash, is_active, is_staff and is_superuser are as they were (the
  session-auth hash check) — a logout, an expiry or a password change misses;
- the person's version and every one of their teams' versions are the ones read *before* the
  page was rendered: database triggers (apps.people.version_triggers) bump them in the
  transaction of every change, so a change by anyone to what the page could show (or a team
  joined or left) misses;
- the page is younger than `RELAY_PAGE_CACHE_SECONDS` (what time alone changes: "overdue",
  "3 minutes ago");
- the request is the same: path and query string, the CSRF cookie, the htmx headers, host,
  scheme and Accept-Language.

A miss reads that one query before the view (so a change landing while the view renders
makes the next request miss again); a session's first page in a process is rendered as usual
and tells the process whom to read for it.

A hit is the stored body with a freshly masked CSRF token where the page had one, the stored
headers and the CSRF cookie renewed as CsrfViewMiddleware does. Only GETs of the views in
PAGES are kept, only 200s whose cookies are that renewal and whose headers are the ones named
in _KEPT_HEADERS, never with a flash message pending, never for staff or superusers (who see
teams they are not in, whose versions are not the person's). Anything else goes down the
stack untouched.
"""

import re
import threading
import time
from collections import OrderedDict
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.middleware.csrf import (
    CSRF_ALLOWED_CHARS,
    CSRF_SECRET_LENGTH,
    _mask_cipher_secret,
    _unmask_cipher_token,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from apps.core.reusable_sql import fetch_prepared
from apps.people.models import User
from apps.people.versions import VERSIONS_QUERY, versions_from_rows

# The views whose GETs are kept: URL name and a stand-in for each argument (its converter).
PAGES = {
    "tasks:task_detail": ("int",),
    "boards:drawer": ("int",),
    "boards:task_list": ("slug",),
    "boards:my_work": (),
    "boards:reviews": (),
}
_CONVERTERS = {"int": ("987654321", "[0-9]+"), "slug": ("stand-in-slug", "[-a-zA-Z0-9_]+")}
# Headers the inner middleware and these views set that a kept page repeats as they were.
_KEPT_HEADERS = {"content-type", "content-length", "vary", "x-frame-options", "hx-push-url"}
_VARY_KEPT = {"cookie", "hx-request", "hx-target", "hx-trigger", "hx-current-url"}
# Request headers that make the same URL another page (partial or whole, the filters shown).
_KEYED_META = (
    "HTTP_HOST",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_HX_REQUEST",
    "HTTP_HX_BOOSTED",
    "HTTP_HX_TARGET",
    "HTTP_HX_TRIGGER",
    "HTTP_HX_TRIGGER_NAME",
    "HTTP_HX_CURRENT_URL",
    "HTTP_HX_HISTORY_RESTORE_REQUEST",
    "HTTP_HX_PROMPT",
    "HTTP_X_FORWARDED_PROTO",
    "wsgi.url_scheme",
)
# A preconditional GET is the view's to answer (it may say 304).
_PRECONDITIONS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)
_TOKEN = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
_SECRET = re.compile(f"[{re.escape(CSRF_ALLOWED_CHARS)}]{{{CSRF_SECRET_LENGTH}}}")
_HINTS_MAX = 10_000
# What of the person's row a kept page is checked against besides their version (which the
# triggers bump for everything pages show of a person: names, availability, load, is_active,
# is_staff): the password hash (the session-auth hash check) and what decides being kept.
_PERSON_COLUMNS = ("password", "is_active", "is_staff", "is_superuser")
# Where a pending flash message can wait: the cookie and the session, both looked at.
_MESSAGE_STORAGES = {
    "django.contrib.messages.storage.fallback.FallbackStorage",
    "django.contrib.messages.storage.cookie.CookieStorage",
    "django.contrib.messages.storage.session.SessionStorage",
}


class Entry(NamedTuple):
    """One kept page and what it was made from."""

    user_id: int
    row: tuple  # the session data and the person's row, as read before the view ran
    versions: tuple
    made: float  # time.monotonic()
    status: int
    headers: tuple[tuple[str, str], ...]
    parts: tuple[bytes, ...]  # the body, split where the masked CSRF token was
    size: int
    renews_csrf: bool  # the page used the token, so CsrfViewMiddleware renewed the cookie


def _page_patterns() -> list[re.Pattern]:
    patterns = []
    for name, converters in PAGES.items():
        stand_ins = [_CONVERTERS[c][0] for c in converters]
        pattern = re.escape(reverse(name, args=stand_ins))
        for converter in converters:
            stand_in, regex = _CONVERTERS[converter]
            pattern = pattern.replace(re.escape(stand_in), regex, 1)
        patterns.append(re.compile(pattern))
    return patterns


class PageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.seconds = settings.RELAY_PAGE_CACHE_SECONDS
        self.budget = settings.RELAY_PAGE_CACHE_BYTES
        self.enabled = (
            self.seconds > 0
            and settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
            and not settings.SESSION_SAVE_EVERY_REQUEST
            and not settings.CSRF_USE_SESSIONS
            and User.get_session_auth_hash is AbstractBaseUser.get_session_auth_hash
            and settings.MESSAGE_STORAGE in _MESSAGE_STORAGES
        )
        self.patterns = _page_patterns()
        self.entries: OrderedDict[tuple, Entry] = OrderedDict()
        self.lock = threading.Lock()  # a threaded server's requests share the entries
        self.size = 0
        self.width = 1 + len(_PERSON_COLUMNS)
        self.sql: dict[str, str] = {}
        # session key -> the id of the person it was last seen to be: only which person row
        # and versions to read; a page is kept only if the view authenticated that person.
        self.hints: dict[str, int] = {}

    def __call__(self, request):
        if not self.enabled or request.method != "GET":
            return self.get_response(request)
        key = self._key(request)
        if key is None:
            return self.get_response(request)
        entry = self.entries.get(key)
        if entry is not None:
            if time.monotonic() - entry.made < self.seconds and self._read(
                key[0], entry.user_id
            ) == (entry.row, entry.versions):
                with self.lock:
                    if key in self.entries:
                        self.entries.move_to_end(key)
                return self._replay(entry, key[1])
            self._drop(key)
        return self._render_and_keep(request, key)

    def _key(self, request) -> tuple | None:
        meta = request.META
        cookies = request.COOKIES
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        secret = cookies.get(settings.CSRF_COOKIE_NAME)
        if (
            not session_key
            or not secret
            or not _SECRET.fullmatch(secret)
            or CookieStorage.cookie_name in cookies
            or any(name in meta for name in _PRECONDITIONS)
        ):
            return None
        path = request.path_info
        if not any(pattern.fullmatch(path) for pattern in self.patterns):
            return None
        return (
            session_key,
            secret,
            path,
            meta.get("QUERY_STRING", ""),
            tuple(meta.get(name) for name in _KEYED_META),
        )

    def _read(self, session_key: str, user_id: int) -> tuple[tuple, tuple] | None:
        """(the session data and the person's row, their versions); None for no session (or
        no answer: what is not read is never kept nor answered)."""
        versions_sql, params = VERSIONS_QUERY.sql_and_params(user=user_id)
        sql = self.sql.get(versions_sql)
        if sql is None:
            quote = connection.ops.quote_name
            columns = ", ".join(f"u.{quote(column)}" for column in _PERSON_COLUMNS)
            # The session, the person's row and the versions (a row per team), one query.
            sql = self.sql[versions_sql] = (
                f"SELECT s.session_data, {columns}, v.* "
                f"FROM django_session s INNER JOIN {quote(User._meta.db_table)} u ON u.id = %s "
                f"LEFT JOIN ({versions_sql}) v ON 1 = 1 "
                "WHERE s.session_key = %s AND s.expire_date > %s"
            )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        try:
            # Prepared on PostgreSQL (planning is most of this query's time); a broken
            # connection is the view's to notice and reopen (Django's health check).
            rows = fetch_prepared(sql, [user_id, *params, session_key, now], health_check=False)
        except DatabaseError:
            return None
        if not rows:
            return None
        versions = versions_from_rows([row[self.width :] for row in rows])
        if versions is None or versions.person is None:
            return None
        return rows[0][: self.width], (versions.person, tuple(sorted(versions.teams.items())))

    def _render_and_keep(self, request, key):
        session_key = key[0]
        user_id = self.hints.get(session_key)
        if user_id is None:
            # The session's first page here: the view reads the session and says who it is.
            response = self.get_response(request)
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated and not request.session.modified:
                if len(self.hints) >= _HINTS_MAX:
                    self.hints.clear()
                self.hints[session_key] = user.pk
            return response
        # Read before the view: a change that lands while it renders leaves the page keyed on
        # the versions before it, so the next request misses and renders again.
        read = self._read(session_key, user_id)
        response = self.get_response(request)
        entry = read and self._entry(request, response, key, user_id, *read)
        if entry is not None:
            self._keep(key, entry)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            self.hints.pop(session_key, None)
        elif user.pk != user_id:
            self.hints[session_key] = user.pk
        return response

    def _entry(self, request, response, key, user_id, row, versions) -> Entry | None:
        session_key, secret = key[0], key[1]
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if (
            response.status_code != 200
            or response.streaming
            or user is None
            or not user.is_authenticated
            or user.pk != user_id
            or user.is_staff
            or user.is_superuser
            or session is None
            or session.session_key != session_key
            or session.modified
            or request.META.get("CSRF_COOKIE") != secret
        ):
            return None
        cookies = response.cookies
        if any(name != settings.CSRF_COOKIE_NAME for name in cookies) or (
            settings.CSRF_COOKIE_NAME in cookies
            and cookies[settings.CSRF_COOKIE_NAME].value != secret
        ):
            return None
        headers = tuple(response.headers.items())
        if any(name.lower() not in _KEPT_HEADERS for name, _ in headers):
            return None
        vary = {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v}
        if not vary <= _VARY_KEPT:
            return None
        parts = tuple(_split_on_tokens(response.content, secret))
        return Entry(
            user_id=user_id,
            row=row,
            versions=versions,
            made=time.monotonic(),
            status=response.status_code,
            headers=headers,
            parts=parts,
            size=sum(len(p) for p in parts),
            renews_csrf=settings.CSRF_COOKIE_NAME in cookies,
        )

    def _keep(self, key, entry: Entry) -> None:
        """Keep it, the least recently answered ones making room within the budget."""
        if entry.size > self.budget:
            return
        with self.lock:
            self._pop(key)
            while self.entries and self.size + entry.size > self.budget:
                _, oldest = self.entries.popitem(last=False)
                self.size -= oldest.size
            self.entries[key] = entry
            self.size += entry.size

    def _drop(self, key) -> None:
        with self.lock:
            self._pop(key)

    def _pop(self, key) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.size -= entry.size

    def _replay(self, entry: Entry, secret: str) -> HttpResponse:
        if len(entry.parts) > 1:
            token = _mask_cipher_secret(secret).encode()
            body = token.join(entry.parts)
        else:
            body = entry.parts[0]
        response = HttpResponse(body, status=entry.status)
        for name, value in entry.headers:
            response.headers[name] = value
        if entry.renews_csrf:
            self._renew_csrf_cookie(response, secret)
        return response

    @staticmethod
    def _renew_csrf_cookie(response: HttpResponse, secret: str) -> None:
        """What CsrfViewMiddleware does to every page that used the token: the same cookie
        with its expiry pushed on."""
        response.set_cookie(
            settings.CSRF_COOKIE_NAME,
            secret,
            max_age=settings.CSRF_COOKIE_AGE,
            domain=settings.CSRF_COOKIE_DOMAIN,
            path=settings.CSRF_COOKIE_PATH,
            secure=settings.CSRF_COOKIE_SECURE,
            httponly=settings.CSRF_COOKIE_HTTPONLY,
            samesite=settings.CSRF_COOKIE_SAMESITE,
        )
        patch_vary_headers(response, ("Cookie",))


def _split_on_tokens(body: bytes, secret: str) -> list[bytes]:
    """The body cut where a CSRF token masking `secret` stood (each hit masks it afresh)."""
    parts, start = [], 0
    for match in _TOKEN.finditer(body):
        token = match.group().decode()
        if _unmask_cipher_token(token) == secret:
            parts.append(body[start : match.start()])
            start = match.end()
    parts.append(body[start:])
    return parts
