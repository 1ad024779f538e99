"""Relay's settings plus one empty login_required page (bench/lists.py measures it: what any
logged-in page costs before its own work), static files collected to a folder of the bench's."""

import os

from workflow_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.lists_urls"
STATIC_ROOT = os.environ.get("BENCH_STATIC_ROOT", "/tmp/relay-bench-lists-static")
