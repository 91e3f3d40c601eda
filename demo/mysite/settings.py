"""Settings of the demo project: everything that differs between hosts comes from the
environment, with production defaults (DEBUG off, a secret key required)."""

import importlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name):
    """The comma-separated list in environment variable `name`, blanks dropped."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


DEBUG = os.environ.get("DJANGO_DEBUG", "").lower() in ("1", "true", "yes", "on")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "insecure-debug-only-key"

# Empty refuses every host unless DEBUG is on (then Django allows localhost).
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# The workers listen on loopback behind nginx, which overwrites X-Forwarded-Proto with the
# scheme the client used: request.is_secure() and the CSRF origin check then see https.
# Safe only while nothing but that proxy can reach the workers.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# nginx passes the Host the client sent, its port included (the CSRF check compares it with
# the Origin a browser sends), so there is no need to trust another header.
USE_X_FORWARDED_HOST = False

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "greetings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE_URL (postgres://USER:PASSWORD@HOST/NAME, a secret), or else SQLite at
# DJANGO_DB_PATH.
DATABASES = {
    "default": dj_database_url.config(
        default="sqlite:///" + os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3"))
    )
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "static-collected"))
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media"))
# Deployed, static file names carry a hash of their content (site.3f2a9c0d41b7.css), read
# from the manifest collectstatic writes: each release's pages name its own files, which
# can be cached for ever. DJANGO_STATIC_MANIFEST=false (the tests) serves plain names.
STATIC_MANIFEST = os.environ.get("DJANGO_STATIC_MANIFEST", "").lower() in ("1", "true", "yes", "on")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage."
        + ("ManifestStaticFilesStorage" if STATIC_MANIFEST else "StaticFilesStorage")
    },
}

# Celery (mysite/celery.py), on when CELERY_BROKER_URL is set: redis://HOST:PORT/DB.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A deployment's own settings, beside these, where it has them (the django_app role writes
# such a file with django_app_config_files, as molecule/apps's shop does).
try:
    local_settings = importlib.import_module("mysite.local_settings")
except ModuleNotFoundError as error:
    if error.name != "mysite.local_settings":
        raise
else:
    globals().update({name: v for name, v in vars(local_settings).items() if name.isupper()})

# Everything to stderr, which Circus writes to the watcher's log. Chaussette has its own
# stderr handler and would print each of its lines twice if it also propagated to root.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"}
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"chaussette": {"handlers": ["stderr"], "propagate": False}},
}
