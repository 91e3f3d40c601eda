from django.contrib import admin
from django.urls import path

from greetings import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("ping", views.ping, name="ping"),
    path("work", views.work, name="work"),
    path("version", views.version, name="version"),
    path("celery/add", views.celery_add, name="celery_add"),
    path("admin/", admin.site.urls),
]
