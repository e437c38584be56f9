"""The Celery application: queues, routing and the beat schedule live here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftshop.settings.local")

app = Celery("giftshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
