"""gunicorn's settings, which it reads by itself when started from this folder (`gunicorn giftshop.wsgi …`).

Its own lines (starting, a worker booting, exiting or timing out; and its access lines, if asked for
with `--access-logfile -`) go through the site's logging (`giftshop.logs`): one JSON object per line
in production, stamped in the site's time zone and filtered (claim links redacted) like every other
line. Without this they were gunicorn's own text format stamped in UTC. Lines sent to a file of the
operator's choosing (`--error-logfile PATH`) stay gunicorn's. Loading the settings here also sets the
process's time zone (Django does, from `TIME_ZONE`) before gunicorn forks its workers.
"""

import logging.config
import os

from gunicorn.glogging import Logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftshop.settings.production")  # as giftshop/wsgi.py

from django.conf import settings  # noqa: E402


class SiteLogger(Logger):
    """gunicorn's logger, its lines for standard error or output handed to the site's handlers."""

    def setup(self, cfg):
        super().setup(cfg)
        logging.config.dictConfig(settings.LOGGING)  # the master never loads the app: configure it here
        for log, output in ((self.error_log, cfg.errorlog), (self.access_log, cfg.accesslog)):
            own = self._get_gunicorn_handler(log)
            if output == "-" and own is not None:
                log.removeHandler(own)
                log.propagate = True  # to the root logger: the site's handlers, formats and filters


logger_class = SiteLogger
