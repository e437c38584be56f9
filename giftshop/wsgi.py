"""WSGI entry point for gunicorn (production settings unless DJANGO_SETTINGS_MODULE says otherwise)."""

import os

from django.core.wsgi import get_wsgi_application

from giftshop.checks import refuse_to_start_on_errors

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftshop.settings.production")
application = get_wsgi_application()
refuse_to_start_on_errors()  # gunicorn runs no system checks: production refuses the sandbox here
