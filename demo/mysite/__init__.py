"""Loads the Celery app only when a broker is configured: without it (the tests, the
deployments without a worker) Celery need not be installed."""

import os

if os.environ.get("CELERY_BROKER_URL"):
    from mysite.celery import app as celery_app

    __all__ = ("celery_app",)
