"""gunicorn's settings, which it reads by itself when started from this folder (`gunicorn giftshop.wsgi …`).

Its own lines (starting, a worker booting, exiting or timing out) go through the site's logging
(`giftshop.logs`): one JSON object per line in production, stamped in the site's time zone, like every
other line. Without this they were gunicorn's own text format, stamped in UTC: loading the settings
here sets the process's time zone (Django does, from `TIME_ZONE`) before gunicorn forks its workers.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftshop.settings.production")  # as giftshop/wsgi.py

from django.conf import settings  # noqa: E402

from giftshop.logs import gunicorn_logging  # noqa: E402

logconfig_dict = gunicorn_logging(settings.LOGGING)
