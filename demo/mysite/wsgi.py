"""WSGI entry point: Chaussette serves mysite.wsgi.application on the Circus socket."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
