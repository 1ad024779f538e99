import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")
application = get_wsgi_application()
# Everything loaded so far (Django, the apps, the URLconf, templates' code) lives as long as
# the process: the collector need not look at it again. Without this, a full collection every
# few hundred requests walked all of it (GC pauses showed in profiles of a 2 ms poll).
gc.freeze()
