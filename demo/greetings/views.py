import os
import socket
import time

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from greetings.models import Greeting


def index(request):
    """Reads the database on every request; writes nothing."""
    return render(
        request,
        "greetings/index.html",
        {"count": Greeting.objects.count(), "latest": Greeting.objects.first()},
    )


def healthz(request):
    """200 "ok" once the worker can reach its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok\n", content_type="text/plain")


@csrf_exempt
def work(request):
    """Answers GET or POST after a fixed 0.3 s of simulated work: the benchmarks' slow
    request. POST, which nginx never retries on another upstream, shows every request a
    worker drops."""
    time.sleep(0.3)
    return HttpResponse("worked\n", content_type="text/plain")


def ping(request):
    """A constant answer, no database, no template: the benchmarks' trivial view, which
    measures the server and the framework rather than the page."""
    return HttpResponse("pong\n", content_type="text/plain")


def version(request):
    """The release this worker runs, its pid and its host's name. The django_app role
    deploys the code into releases/ID/app, so the release id is the name of the code's
    parent directory."""
    return JsonResponse(
        {"release": settings.BASE_DIR.parent.name, "pid": os.getpid(), "host": socket.gethostname()}
    )


def celery_add(request):
    """Has the Celery worker add the integers a and b and answers the sum, within 10 s.
    503 when no broker is configured (Celery is then not installed)."""
    if not settings.CELERY_BROKER_URL:
        return HttpResponse("no Celery broker configured\n", status=503, content_type="text/plain")
    try:
        first, second = int(request.GET["a"]), int(request.GET["b"])
    except (KeyError, ValueError):
        return HttpResponse("a and b must be integers\n", status=400, content_type="text/plain")
    # Imported here: Celery is installed only where a broker is configured.
    from greetings.tasks import add

    result = add.delay(first, second)
    return JsonResponse({"result": result.get(timeout=10), "task": result.id})
