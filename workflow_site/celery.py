"""Celery application. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import beat_init, celeryd_init

from . import kombu_fixes

kombu_fixes.apply()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")

app = Celery("relay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect(dispatch_uid="relay-worker-broker-options")
@beat_init.connect(dispatch_uid="relay-beat-broker-options")
def use_patient_broker_options(**kwargs) -> None:
    """A worker or beat keeps reconnecting through a broker outage instead of failing fast as a
    web request's publish does (settings.py explains why the two must differ). celeryd_init runs
    before the worker's first connection and before its pool forks, so its tasks inherit it."""
    from django.conf import settings

    app.conf.broker_transport_options = dict(settings.RELAY_WORKER_BROKER_TRANSPORT_OPTIONS)
    app.conf.broker_connection_timeout = settings.RELAY_WORKER_BROKER_CONNECTION_TIMEOUT
