"""The demo's Celery app, used when CELERY_BROKER_URL is set (mysite/__init__.py): the
django_app role runs its worker as `celery -A mysite worker` (django_app_watchers)."""

from celery import Celery

app = Celery("mysite")
# CELERY_* settings (settings.py reads them from the environment).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
