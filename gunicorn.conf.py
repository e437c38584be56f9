"""gunicorn's settings, which it reads by itself when started from this folder (`gunicorn giftshop.wsgi …`).

Its own lines (starting, a worker booting, exiting or timing out; and its access lines, if asked for
with `--access-logfile -`) go through the site's logging (`giftshop.logs`): one JSON object per line
in production, stamped in the site's time zone and filtered (claim links redacted) like every other
line. Without this they were gunicorn's own text format stamped in UTC. Lines sent to a file of the
operator's choosing (`--error-logfile PATH`) stay gunicorn's.

The master never loads the site's settings: what it loaded would be inherited by every worker it
forks, so an `--env` value or a reload (HUP) would not reach the workers' settings. It reads the two
logging variables (`LOG_FORMAT`, `LOG_LEVEL`, with the settings' defaults) and the time zone itself.
"""

import logging.config
import os
import time

from gunicorn.glogging import Logger

# Before anything of the site is imported: its Celery module would otherwise default to the local
# settings, and every worker would inherit that.
SETTINGS = "giftshop.settings.production"  # as giftshop/wsgi.py
os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
TIME_ZONE = "Asia/Shanghai"  # TIME_ZONE of giftshop/settings/base.py (tests/test_deploy.py keeps them equal)


class SiteLogger(Logger):
    """gunicorn's logger, its lines for standard error or output handed to the site's handlers."""

    def setup(self, cfg):
        super().setup(cfg)
        from giftshop.logs import logging_config  # the module reads no settings

        env = {**os.environ, **cfg.env}  # gunicorn applies --env to the environment only after this
        os.environ["TZ"] = env.get("TZ") or TIME_ZONE
        time.tzset()
        production = env.get("DJANGO_SETTINGS_MODULE", SETTINGS).endswith(".production")
        log_format = env.get("LOG_FORMAT") or ("json" if production else "plain")  # the settings' defaults
        logging.config.dictConfig(logging_config(log_format=log_format, level=env.get("LOG_LEVEL") or "INFO"))
        for log, output in ((self.error_log, cfg.errorlog), (self.access_log, cfg.accesslog)):
            own = self._get_gunicorn_handler(log)
            if output == "-" and own is not None:
                log.removeHandler(own)
                log.propagate = True  # to the root logger: the site's handlers, formats and filters


logger_class = SiteLogger
