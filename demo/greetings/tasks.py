"""Tasks the demo's Celery worker runs (loaded by the worker's autodiscovery and by the
view that sends them, only when a broker is configured)."""

from celery import shared_task


@shared_task
def add(first, second):
    return first + second
