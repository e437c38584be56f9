"""ASGI entry point (production settings unless DJANGO_SETTINGS_MODULE says otherwise)."""

import os

from django.core.asgi import get_asgi_application

from giftshop.checks import refuse_to_start_on_errors

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftshop.settings.production")
application = get_asgi_application()
refuse_to_start_on_errors()  # production refuses the sandbox (giftshop/checks.py)
