import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
application = get_wsgi_application()
# Import the URLconf (every view and API module, the ninja routers) now, as the worker
# starts, instead of in its first request: that took about 0.5 s here, and with N
# workers the first N requests after a start or a deploy each waited for it (issue 15's
# 100-client race: a p95 of seconds). No database is touched.
_url_patterns = get_resolver().url_patterns
