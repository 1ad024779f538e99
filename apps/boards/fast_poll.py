"""The unchanged board poll answered before the session, auth, CSRF and messages middleware.

Every open board polls every 5 s; nearly all of those polls are 304s. The normal path loads
the session and the user through the ORM and runs eight middleware for a response with no
body. `FastPollMiddleware` (placed just before SessionMiddleware, so SecurityMiddleware and
the CSP middleware still add their headers) answers a `GET …/board/poll/` with If-None-Match
from ONE query: the session row (unexpired), the user's password hash, is_active and
is_staff, and the board's fingerprint (selectors.board_version's SQL, which also decides
membership). It validates as Django does — the session data's signature (SessionStore.decode,
with SECRET_KEY_FALLBACKS), the auth backend, `_auth_user_hash` against the user's current
session auth hash, is_active — and answers 304 only if the ETag equals the one the view would
compute. Anything else (no hint yet, a fallback-key hash Django would rotate, another
precondition header, a different ETag, any doubt) falls through to the normal view untouched.
"""

import re
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.db import SessionStore
from django.db import DatabaseError, connection
from django.http import HttpResponseNotModified
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import _if_none_match_passes
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import parse_etags
from django.utils.module_loading import import_string

from apps.core.reusable_sql import fetch_prepared
from apps.people.models import User

from . import selectors

# Headers besides If-None-Match that make Django's condition() decide differently.
_OTHER_PRECONDITIONS = ("HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")
_HINTS_MAX = 10_000
_DECODED_MAX = 10_000
# AbstractBaseUser.get_session_auth_hash's salt (the middleware is off if User overrides it).
_AUTH_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"


class _Viewer(NamedTuple):
    """Who etag_for needs: the person's id (building a User costs more than the query)."""

    pk: int


def _plain_model_backend(path: str) -> bool:
    """A backend whose session check is ModelBackend's: get_user by pk, is_active."""
    if path not in settings.AUTHENTICATION_BACKENDS:
        return False
    backend = import_string(path)
    return (
        issubclass(backend, ModelBackend)
        and backend.get_user is ModelBackend.get_user
        and backend.user_can_authenticate is ModelBackend.user_can_authenticate
    )


class FastPollMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = (
            settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
            and not settings.SESSION_SAVE_EVERY_REQUEST
            and User.get_session_auth_hash is AbstractBaseUser.get_session_auth_hash
        )
        self.backends = {}
        # session key -> (user id, is_staff): only picks which SQL to run; every answer is
        # checked against the row read in the same query.
        self.hints: dict[str, tuple[int, bool]] = {}
        self.decoded: dict[str, dict] = {}
        # The poll's URL as a pattern (the slug converter's), without resolving every request.
        prefix, _, suffix = reverse("boards:poll", kwargs={"team_slug": "SLUG"}).partition("SLUG")
        self.path = re.compile(f"{re.escape(prefix)}([-a-zA-Z0-9_]+){re.escape(suffix)}")
        self.sql: dict[tuple[str, bool], str] = {}

    def __call__(self, request):
        if self.enabled and request.method == "GET" and "HTTP_IF_NONE_MATCH" in request.META:
            response = self.fast_304(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _backend_ok(self, path: str) -> bool:
        ok = self.backends.get(path)
        if ok is None:
            ok = self.backends[path] = _plain_model_backend(path)
        return ok

    def _decode(self, data: str) -> dict:
        decoded = self.decoded.get(data)
        if decoded is None:
            if len(self.decoded) >= _DECODED_MAX:
                self.decoded.clear()
            decoded = self.decoded[data] = SessionStore().decode(data)
        return decoded

    def fast_304(self, request):
        if any(name in request.META for name in _OTHER_PRECONDITIONS):
            return None
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if not session_key:
            return None
        match = self.path.fullmatch(request.path_info)
        if match is None:
            return None
        team_slug = match.group(1)
        hint = self.hints.get(session_key)
        if hint is None:
            hint = self._learn(session_key)
            if hint is None:
                return None
        user_id, is_staff = hint
        try:
            row = self._read(session_key, user_id, is_staff, team_slug)
        except DatabaseError:
            # Its prepared query skips Django's per-request health check (a round trip): a
            # connection that broke meanwhile is the normal path's to check and reopen.
            return None
        if row is None:
            return None
        data, password, is_active, row_staff, present, *version = row
        session = self._decode(data)
        if (
            not is_active
            or bool(row_staff) != is_staff
            or not present
            or str(session.get(SESSION_KEY)) != str(user_id)
            or not self._backend_ok(session.get(BACKEND_SESSION_KEY, ""))
        ):
            self.hints.pop(session_key, None)
            return None
        session_hash = session.get(HASH_SESSION_KEY)
        current_hash = salted_hmac(_AUTH_HASH_SALT, password, algorithm="sha256").hexdigest()
        if not session_hash or not constant_time_compare(session_hash, current_hash):
            return None  # refused, or a fallback key's hash Django rotates: the view decides
        try:
            filters = selectors.BoardFilters.from_query(request.GET)
        except Exception:  # a filter it cannot read is the view's to answer
            return None
        etag = selectors.etag_for(
            version="|".join(str(value) for value in version),
            user=_Viewer(user_id),
            filters=filters,
        )
        if _if_none_match_passes(etag, parse_etags(request.META["HTTP_IF_NONE_MATCH"])):
            return None  # changed: the view renders the board
        response = HttpResponseNotModified()
        # What condition(), cache_control(), SessionMiddleware (session read),
        # CommonMiddleware (Content-Length) and XFrameOptionsMiddleware add to the view's
        # 304 (tests/boards/test_fast_poll.py compares the two).
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers["Vary"] = "Cookie"
        response.headers["Content-Length"] = "0"
        response.headers["X-Frame-Options"] = getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()
        return response

    def _learn(self, session_key: str) -> tuple[int, bool] | None:
        """Who the session says it is (first poll of this session in this process)."""
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT session_data FROM django_session WHERE session_key = %s"
                " AND expire_date > %s",
                [session_key, now],
            )
            found = cursor.fetchone()
            if found is None:
                return None
            user_id = self._decode(found[0]).get(SESSION_KEY)
            try:
                user_id = int(user_id)
            except (TypeError, ValueError):
                return None
            cursor.execute(
                f"SELECT is_staff FROM {connection.ops.quote_name(User._meta.db_table)}"
                " WHERE id = %s",
                [user_id],
            )
            found = cursor.fetchone()
        if found is None:
            return None
        if len(self.hints) >= _HINTS_MAX:
            self.hints.clear()
        hint = self.hints[session_key] = (user_id, bool(found[0]))
        return hint

    def _read(self, session_key, user_id, is_staff, team_slug):
        version_sql, version_params = selectors._VERSION_QUERIES[is_staff].sql_and_params(
            user=user_id, team_slug=team_slug
        )
        sql = self.sql.get((version_sql, is_staff))
        if sql is None:
            users = connection.ops.quote_name(User._meta.db_table)
            sql = self.sql[version_sql, is_staff] = (
                "SELECT s.session_data, u.password, u.is_active, u.is_staff, v.* "
                f"FROM django_session s INNER JOIN {users} u ON u.id = %s "
                f"LEFT JOIN (SELECT 1 AS present, x.* FROM ({version_sql}) x) v ON 1 = 1 "
                "WHERE s.session_key = %s AND s.expire_date > %s"
            )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        rows = fetch_prepared(sql, [user_id, *version_params, session_key, now], health_check=False)
        return rows[0] if rows else None
