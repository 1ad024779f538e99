"""Relay settings: one module, everything that differs between machines comes from the environment.

Embedded default (nothing set): SQLite file, Celery tasks run eagerly in-process, e-mail printed
to the console. Production sets DATABASE_URL, CELERY_BROKER_URL, EMAIL_HOST…, SECRET_KEY,
DEBUG=0 and ALLOWED_HOSTS.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "insecure-dev-key-only-for-local-use-relay-0123456789abcdefghijklmnopqrstuvwxyz"
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_fsm",
    "django_fsm_log",
    "apps.people",
    "apps.tasks",
    "apps.workflows",
    "apps.assignment",
    "apps.boards",
    "apps.notifications",
    "apps.hooks",
    "apps.health",
    "apps.insight",
    "apps.api",
    # django-ninja: in INSTALLED_APPS so /api/docs serves its own Swagger UI files (the CSP
    # allows no CDN).
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /api/: a body over the limit refused unread (413), Django's own 404/500 pages as JSON.
    "apps.api.middleware.ApiErrorsMiddleware",
    # The unchanged board poll's 304 from one query, before the session and auth middleware
    # (apps.boards.fast_poll); anything it is not sure of goes on down the stack.
    "apps.boards.fast_poll.FastPollMiddleware",
    # A person's task page, drawer, task list and queues answered again from memory while
    # their versions and session are unchanged (apps.boards.page_cache); any doubt goes on.
    "apps.boards.page_cache.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "workflow_site.urls"
WSGI_APPLICATION = "workflow_site.wsgi.application"
ASGI_APPLICATION = "workflow_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.notifications.context_processors.inbox",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's, keeping the version counters' triggers across table remakes (its docstring).
    DATABASES["default"]["ENGINE"] = "workflow_site.sqlite"
    # Concurrent writers (web + eager Celery + tests with threads) wait instead of failing,
    # and IMMEDIATE transactions take the write lock up front so read-then-write is safe.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Persistent like PostgreSQL's: opening a connection (WAL pragmas, Django's SQL functions
    # registered on it) cost ~0.8 ms, a third of an unchanged poll. Safe: a connection in
    # autocommit holds no snapshot between requests, and each thread has its own.
    # A file, not shared-cache memory, so tests with threads see SQLite's real locking.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}

# --- Cache ---------------------------------------------------------------------------------
# Per process by default; with REDIS_URL, one Redis cache shared by every server and worker.
# Whatever is cached must be keyed on versions read from the database in the same request
# (e.g. apps.boards.selectors.version_of), so a per-process copy is never stale either; and
# nothing one person may see or do is cached where another person's request would find it.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("RELAY_CACHE_MAX_ENTRIES", "5000"))},
        }
    )
    | {"KEY_PREFIX": "relay", "TIMEOUT": int(os.environ.get("RELAY_CACHE_TIMEOUT", "3600"))}
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "people.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# apps.boards.page_cache: how long a kept page may be answered again at most (what time alone
# changes on it, "overdue" or "3 minutes ago", is at most this old; every change by anyone
# misses at once), and the memory each server process gives it. 0 seconds turns it off.
RELAY_PAGE_CACHE_SECONDS = float(os.environ.get("RELAY_PAGE_CACHE_SECONDS", "10"))
RELAY_PAGE_CACHE_BYTES = int(os.environ.get("RELAY_PAGE_CACHE_BYTES", 32 * 1024 * 1024))

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# --- Attachments -----------------------------------------------------------------------------
# Files attached to tasks and comments go to their own storage, never under STATIC_ROOT and
# never at a public URL: apps.tasks.views.attachment_download streams them to people who may
# see the task. Local files by default; any Django storage backend by naming its class in
# RELAY_ATTACHMENTS_STORAGE, with its OPTIONS as a JSON object in
# RELAY_ATTACHMENTS_STORAGE_OPTIONS (e.g. storages.backends.s3.S3Storage, {"bucket_name": …}).
ATTACHMENTS_ROOT = Path(os.environ.get("RELAY_ATTACHMENTS_ROOT", BASE_DIR / "attachments"))
ATTACHMENTS_STORAGE_OPTIONS = json.loads(
    os.environ.get("RELAY_ATTACHMENTS_STORAGE_OPTIONS", "") or "{}"
)
# The largest file one may attach (bytes). An upload above FILE_UPLOAD_MAX_MEMORY_SIZE is
# spooled to a temporary file, not held in memory; a request body much larger than this limit
# is refused before it is read (DATA_UPLOAD_MAX_MEMORY_SIZE counts only the non-file fields).
ATTACHMENT_MAX_BYTES = int(os.environ.get("RELAY_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))
# What may be attached, by the type its content is sniffed as (never the browser's word or
# the file's extension): images and PDFs by their magic bytes, text by decoding as UTF-8.
ATTACHMENT_CONTENT_TYPES = env_list(
    "RELAY_ATTACHMENT_CONTENT_TYPES",
    "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,text/csv",
)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "attachments": {
        "BACKEND": os.environ.get(
            "RELAY_ATTACHMENTS_STORAGE", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": ATTACHMENTS_STORAGE_OPTIONS or {"location": str(ATTACHMENTS_ROOT)},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Celery --------------------------------------------------------------------------------
# No broker configured: tasks run eagerly in the web process, so `make run` needs nothing else.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Two retry policies, kept apart. Publishers (a web request's on_commit, a command) give up
# fast: whatever cannot be enqueued waits in the outbox for a sweeper, and nobody waits on the
# broker (~0.2 s per request with it down). kombu reads `max_retries`/`interval_*` from the
# transport options for every connection's `default_channel` and `ensure()` (without them a
# publish with no channel yet slept interval_start = 2 s), so they must be here, and the
# connection timeout bounds the total. A worker or beat is a daemon: it must not give up on its
# own connection, so it replaces them with RELAY_WORKER_BROKER_* when it starts
# (workflow_site/celery.py) and reconnects for ever. (The worker crash on a blip was kombu's:
# see workflow_site/kombu_fixes.py.)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
    "socket_connect_timeout": 1,  # an unreachable host fails a publish in 1 s, not 20
    "socket_timeout": 5,  # a half-open connection is noticed instead of hanging a request
    "socket_keepalive": True,
    "health_check_interval": 10,  # PING idle connections before reuse (kombu's default: 25)
}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
RELAY_WORKER_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 5,
    "socket_timeout": 10,
    "socket_keepalive": True,
    "health_check_interval": 10,
}
RELAY_WORKER_BROKER_CONNECTION_TIMEOUT = 10
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker never gives up on the broker
# A task running when the connection drops finishes; its message is redelivered (acks_late)
# and the second run finds the work done (deliver claims rows; automated steps are claimed
# by key). Cancelling it instead would waste the work and leave half-done actions.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Periodic work for `celery beat` (django-celery-beat does not support Django 6.1). Every task
# here is safe to run twice, so a beat restarted mid-hour or two beats by mistake do no harm.
# Celery's Django fix-up closes the database connection after every task unless told to reuse
# it; reconnecting to PostgreSQL costs more than a whole notification e-mail. (A task whose
# connection broke closes it, so the next one reconnects: see apps.notifications.tasks.deliver.)
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE: dict = {
    "notifications-sweep": {
        "task": "apps.notifications.tasks.sweep",
        "schedule": float(os.environ.get("NOTIFICATIONS_SWEEP_EVERY", "60")),
    },
    # Webhook deliveries whose message the broker never took, or whose worker died mid-send.
    "hooks-sweep": {
        "task": "apps.hooks.tasks.sweep",
        "schedule": float(os.environ.get("RELAY_WEBHOOKS_SWEEP_EVERY", "60")),
    },
    "tasks-overdue-reminders": {
        "task": "apps.tasks.tasks.overdue_reminders",
        "schedule": crontab(minute=5),
    },
    "tasks-daily-digests": {
        "task": "apps.tasks.tasks.daily_digests",
        "schedule": crontab(minute=0),
    },
    # Workflow steps waiting over twice as long as usual this week: their team's leads hear once.
    "insight-slow-steps": {
        "task": "apps.insight.tasks.alert_slow_steps",
        "schedule": crontab(minute=30, hour=7),
    },
    # The insight summary's day rows folded into one per team, day, person and state.
    "insight-compact-summary": {
        "task": "apps.insight.tasks.compact_summary",
        "schedule": crontab(minute=10, hour=0),
    },
    # Automated steps whose message the broker never took, or whose worker died mid-action.
    "workflows-sweep-steps": {
        "task": "apps.workflows.tasks.sweep_steps",
        "schedule": float(os.environ.get("RELAY_STEP_SWEEP_EVERY", "60")),
    },
    # Steps whose SLA ran out: remind, alert the leads, re-assign (apps.workflows.escalation).
    "workflows-escalate": {
        "task": "apps.workflows.tasks.escalate_overdue",
        "schedule": float(os.environ.get("RELAY_ESCALATION_EVERY", "300")),
    },
    # Time off ending frees people without any event: retry waiting tasks every five minutes.
    "assignment-retry-waiting": {
        "task": "apps.assignment.tasks.retry_waiting_tasks",
        "schedule": 300.0,
    },
    # A worker stamps the heartbeat /healthz reads (README "Health checks"). It expires after
    # one period: workers back from an outage run the latest, not a backlog.
    "health-heartbeat": {
        "task": "apps.health.tasks.heartbeat",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
}

# --- Notifications ---------------------------------------------------------------------------
# Delivery attempts before a row is `failed` (shown in the admin, with a "retry" action); the
# first retry waits NOTIFICATIONS_RETRY_BACKOFF seconds, each next one twice as long.
NOTIFICATIONS_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATIONS_MAX_ATTEMPTS", "5"))
NOTIFICATIONS_RETRY_BACKOFF = float(os.environ.get("NOTIFICATIONS_RETRY_BACKOFF", "30"))
# A row a worker claimed but did not mark within this many seconds is taken again.
NOTIFICATIONS_CLAIM_LEASE = float(os.environ.get("NOTIFICATIONS_CLAIM_LEASE", "300"))
# The sweeper leaves rows younger than this to the task enqueued when they were committed.
NOTIFICATIONS_SWEEP_GRACE = float(os.environ.get("NOTIFICATIONS_SWEEP_GRACE", "60"))

# --- Webhooks (apps.hooks; README "Webhooks") ---------------------------------------------------
# Deliveries to loopback/private/link-local/multicast/reserved addresses are refused (SSRF)
# unless this is "1": only for a receiver on this machine or network on purpose.
RELAY_WEBHOOKS_ALLOW_PRIVATE = os.environ.get("RELAY_WEBHOOKS_ALLOW_PRIVATE", "") == "1"
# Attempts before a delivery is `failed` (a lead can still redeliver it); the first retry
# waits RELAY_WEBHOOKS_RETRY_BACKOFF seconds, each next one twice as long.
RELAY_WEBHOOKS_MAX_ATTEMPTS = int(os.environ.get("RELAY_WEBHOOKS_MAX_ATTEMPTS", "8"))
RELAY_WEBHOOKS_RETRY_BACKOFF = float(os.environ.get("RELAY_WEBHOOKS_RETRY_BACKOFF", "30"))
RELAY_WEBHOOKS_TIMEOUT = float(os.environ.get("RELAY_WEBHOOKS_TIMEOUT", "10"))

# --- E-mail ----------------------------------------------------------------------------------
# Django 6.1 mailers. EMAIL_HOST set: SMTP; else the console (or EMAIL_BACKEND if given).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": EMAIL_HOST,
                "port": int(os.environ.get("EMAIL_PORT", "25")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "use_ssl": env_bool("EMAIL_USE_SSL", False),
                "timeout": int(os.environ.get("EMAIL_TIMEOUT", "10")),
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": os.environ.get(
                "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
            )
        }
    }
del EMAIL_HOST  # deprecated setting name in Django 6.1; MAILERS carries it
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Relay <relay@localhost>")

# --- Security: the front door ------------------------------------------------------------------
# Everything about who may come in and what a page may load, in one block (README "Security").

# DEBUG=0 is production: the key that signs sessions and password-reset links must be secret,
# so it comes from the environment and nothing else.
if not DEBUG and not os.environ.get("SECRET_KEY"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "Set the SECRET_KEY environment variable to a long random secret: with DEBUG=0 Relay "
        "refuses to start with the development key written in its repository."
    )

# Behind a proxy that terminates TLS, a request is secure if the proxy says so, but only a proxy
# we run may say it: RELAY_TRUST_X_FORWARDED_PROTO=1 when every request passes through one that
# sets X-Forwarded-Proto (and overwrites a client's). Off, the header is ignored.
if env_bool("RELAY_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front of Relay append to X-Forwarded-For (0: none, use REMOTE_ADDR); the
# login lock-out counts failures per client address (apps.people.login_throttle.client_ip).
RELAY_TRUSTED_PROXIES = int(os.environ.get("RELAY_TRUSTED_PROXIES", "0"))

# A load balancer's health probe speaks plain HTTP to the node; a redirect is not an answer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Content-Security-Policy on every response (Django's own middleware): scripts, styles, images
# and requests only from Relay itself. No inline <script>, no on*= attributes, no style=
# attributes or <style> elements, no eval (htmx is told not to use it: the htmx-config meta in
# base.html), no plugins, nothing may frame a page. Nothing needs a nonce today; a page that
# does would add CSP.NONCE to script-src and django.template.context_processors.csp.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
)
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],  # the admin's CSS draws a few icons from data: URLs
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Login throttling (django-axes): 5 failed logins for one account from one address, or 20 from
# one address whatever the account, lock that client out for 15 minutes, even with the right
# password; `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` / `axes_reset` unlock.
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last: it turns a lock-out into its page
AUTHENTICATION_BACKENDS = [
    "apps.people.login_throttle.LoginThrottleBackend",  # first: refuses locked-out clients
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "apps.people.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
RELAY_LOGIN_LIMITS = [
    int(os.environ.get("RELAY_LOGIN_FAILURES_PER_ACCOUNT", "5")),
    int(os.environ.get("RELAY_LOGIN_FAILURES_PER_ADDRESS", "20")),
]
AXES_FAILURE_LIMIT = RELAY_LOGIN_LIMITS[0]
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("RELAY_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_CALLABLE = "apps.people.login_throttle.locked_out"  # our page, HTTP 429
AXES_CLIENT_IP_CALLABLE = "apps.people.login_throttle.client_ip"
# A success does not wipe the counts: logging in to one's own account between guesses at
# others must not reset the address's count.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False

# django-fsm-log writes each transition's log row as the transition happens, in the same
# transaction as the task's save, so a refused or rolled-back change leaves no log line.
DJANGO_FSM_LOG_STORAGE_METHOD = "django_fsm_log.backends.SimpleBackend"
# Except a task's: apps.tasks.writes writes those, one code for a single transition and for
# the batch auto-assigner's (which applies the transition to thousands of tasks at once).
DJANGO_FSM_LOG_IGNORED_MODELS = ["apps.tasks.models.Task"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# --- API ---------------------------------------------------------------------------------------
# Requests per caller (token, or signed-in person) per window of seconds (apps.api.limits),
# counted in the cache: shared by every process when REDIS_URL is set.
RELAY_API_RATE_LIMIT = int(os.environ.get("RELAY_API_RATE_LIMIT", "600"))
RELAY_API_RATE_WINDOW = int(os.environ.get("RELAY_API_RATE_WINDOW", "60"))
# The largest request body the API reads (bytes); a larger one is refused with 413 unread.
RELAY_API_MAX_BODY_BYTES = int(os.environ.get("RELAY_API_MAX_BODY_BYTES", str(1024 * 1024)))

# --- Workflows ---------------------------------------------------------------------------------
# Actions automated steps may run (dotted paths); the admin offers only these.
RELAY_ACTIONS = [
    "apps.workflows.actions.run_staging_tests",
    "apps.workflows.actions.deploy_model",
]
RELAY_ACTION_TIMEOUT = int(os.environ.get("RELAY_ACTION_TIMEOUT", "300"))

# --- Health (/healthz, manage.py health; README "Health checks") ------------------------------
# Seconds: broker connect timeout; the oldest worker heartbeat, undelivered notification and
# automated step past RELAY_ACTION_TIMEOUT that still count as healthy.
RELAY_HEALTH_BROKER_TIMEOUT = float(os.environ.get("RELAY_HEALTH_BROKER_TIMEOUT", "1"))
RELAY_HEALTH_HEARTBEAT_MAX_AGE = float(os.environ.get("RELAY_HEALTH_HEARTBEAT_MAX_AGE", "120"))
RELAY_HEALTH_OUTBOX_MAX_AGE = float(os.environ.get("RELAY_HEALTH_OUTBOX_MAX_AGE", "900"))
RELAY_HEALTH_STRANDED_GRACE = float(os.environ.get("RELAY_HEALTH_STRANDED_GRACE", "60"))
# A worker claims an automated step for this many seconds before running its action; a claim
# older than that belongs to a worker that died, and the step is run again (same key). It
# must be longer than RELAY_ACTION_TIMEOUT (`manage.py check` says so otherwise).
RELAY_STEP_CLAIM_LEASE = float(
    os.environ.get("RELAY_STEP_CLAIM_LEASE", str(RELAY_ACTION_TIMEOUT + 60))
)
# The sweeper (every RELAY_STEP_SWEEP_EVERY s, see CELERY_BEAT_SCHEDULE) enqueues again a step
# nobody holds (never claimed, or its claim expired) whose last message is older than
# RELAY_STEP_SWEEP_GRACE s; a step claimed RELAY_STEP_MAX_ATTEMPTS times without a result is
# finished "failed" with the reason, and its run routes on.
RELAY_STEP_SWEEP_GRACE = float(os.environ.get("RELAY_STEP_SWEEP_GRACE", "60"))
RELAY_STEP_MAX_ATTEMPTS = int(os.environ.get("RELAY_STEP_MAX_ATTEMPTS", "3"))
