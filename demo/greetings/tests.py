import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from django.contrib.staticfiles import finders
from django.test import RequestFactory, SimpleTestCase, TestCase

from greetings.models import Greeting

PROJECT_DIR = Path(__file__).resolve().parent.parent


class PagesTests(TestCase):
    def test_index_shows_the_database_content(self):
        Greeting.objects.create(text="an older greeting")
        Greeting.objects.create(text="hello from the database")
        answer = self.client.get("/")
        self.assertEqual(answer.status_code, 200)
        self.assertContains(answer, "webstack.circus demo")
        self.assertContains(answer, '<span id="count">2</span>')
        self.assertContains(answer, '<q id="latest">hello from the database</q>')

    def test_index_with_an_empty_database(self):
        answer = self.client.get("/")
        self.assertContains(answer, '<span id="count">0</span>')
        self.assertNotContains(answer, 'id="latest"')

    def test_index_writes_nothing(self):
        self.client.get("/")
        self.client.get("/")
        self.assertEqual(Greeting.objects.count(), 0)

    def test_index_links_the_stylesheet(self):
        self.assertContains(self.client.get("/"), 'href="/static/greetings/site.css"')
        stylesheet = Path(finders.find("greetings/site.css")).read_text()
        self.assertIn("webstack-demo-static", stylesheet)

    def test_healthz(self):
        answer = self.client.get("/healthz")
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer["Content-Type"], "text/plain")
        self.assertEqual(answer.content, b"ok\n")


class WorkTests(SimpleTestCase):
    def test_work_answers_after_its_simulated_work(self):
        answer = self.client.get("/work")
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.content, b"worked\n")

    def test_work_accepts_post_without_csrf_token(self):
        client = self.client_class(enforce_csrf_checks=True)
        answer = client.post("/work")
        self.assertEqual(answer.status_code, 200)


class PingTests(SimpleTestCase):
    databases = set()

    def test_ping_answers_a_constant_without_the_database(self):
        answer = self.client.get("/ping")
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer["Content-Type"], "text/plain")
        self.assertEqual(answer.content, b"pong\n")


class CeleryTests(SimpleTestCase):
    databases = set()

    def test_celery_add_without_a_broker_is_unavailable(self):
        answer = self.client.get("/celery/add?a=2&b=3")
        self.assertEqual(answer.status_code, 503)
        self.assertEqual(answer.content, b"no Celery broker configured\n")


class VersionTests(SimpleTestCase):
    def test_version_names_the_release_directory_and_the_worker(self):
        answer = self.client.get("/version")
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(
            answer.json(),
            {"release": PROJECT_DIR.parent.name, "pid": os.getpid(), "host": socket.gethostname()},
        )


class ProxyHeadersTests(SimpleTestCase):
    def test_forwarded_proto_https_makes_the_request_secure(self):
        factory = RequestFactory()
        self.assertTrue(factory.get("/", headers={"X-Forwarded-Proto": "https"}).is_secure())
        self.assertFalse(factory.get("/").is_secure())

    def test_forwarded_host_is_ignored(self):
        request = RequestFactory().get("/", headers={"X-Forwarded-Host": "elsewhere.example"})
        self.assertEqual(request.get_host(), "testserver")


def load_settings(environment):
    """Imports the settings in a fresh interpreter whose only DJANGO_* variables are
    `environment`; returns the process and the settings it printed as JSON."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "DATABASE_URL"
    }
    env.update(environment, DJANGO_SETTINGS_MODULE="mysite.settings")
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'DEBUG': s.DEBUG, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS,"
        "'CSRF_TRUSTED_ORIGINS': s.CSRF_TRUSTED_ORIGINS,"
        "'DB': s.DATABASES['default']['NAME'], 'STATIC_ROOT': s.STATIC_ROOT,"
        "'MEDIA_ROOT': s.MEDIA_ROOT, 'ENGINE': s.DATABASES['default']['ENGINE'],"
        "'HOST': s.DATABASES['default']['HOST'],"
        "'STATIC_STORAGE': s.STORAGES['staticfiles']['BACKEND'].rsplit('.', 1)[1]}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result, json.loads(result.stdout) if result.returncode == 0 else None


class SettingsTests(SimpleTestCase):
    def test_no_secret_key_without_debug_is_refused(self):
        result = load_settings({})[0]
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ImproperlyConfigured: DJANGO_SECRET_KEY must be set", result.stderr)

    def test_debug_runs_without_a_secret_key(self):
        result, loaded = load_settings({"DJANGO_DEBUG": "true"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(loaded["DEBUG"])

    def test_deployment_values_come_from_the_environment(self):
        result, loaded = load_settings(
            {
                "DJANGO_SECRET_KEY": "test",
                "DJANGO_ALLOWED_HOSTS": " demo.example, 127.0.0.1 ,",
                "DJANGO_CSRF_TRUSTED_ORIGINS": "https://demo.example",
                "DJANGO_DB_PATH": "/srv/demo/data/db.sqlite3",
                "DJANGO_STATIC_ROOT": "/srv/demo/static",
                "DJANGO_MEDIA_ROOT": "/srv/demo/media",
            }
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            loaded,
            {
                "DEBUG": False,
                "ALLOWED_HOSTS": ["demo.example", "127.0.0.1"],
                "CSRF_TRUSTED_ORIGINS": ["https://demo.example"],
                "DB": "/srv/demo/data/db.sqlite3",
                "STATIC_ROOT": "/srv/demo/static",
                "MEDIA_ROOT": "/srv/demo/media",
                "ENGINE": "django.db.backends.sqlite3",
                "HOST": "",
                "STATIC_STORAGE": "StaticFilesStorage",
            },
        )

    def test_database_url_and_static_manifest(self):
        result, loaded = load_settings(
            {
                "DJANGO_SECRET_KEY": "test",
                "DATABASE_URL": "postgres://demo:secret@db.example:5432/demo",
                "DJANGO_DB_PATH": "/ignored/when/a/url/is/set",
                "DJANGO_STATIC_MANIFEST": "true",
            }
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            (loaded["ENGINE"], loaded["HOST"], loaded["DB"], loaded["STATIC_STORAGE"]),
            ("django.db.backends.postgresql", "db.example", "demo", "ManifestStaticFilesStorage"),
        )

    def test_defaults_without_deployment_values(self):
        result, loaded = load_settings({"DJANGO_SECRET_KEY": "test"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            loaded,
            {
                "DEBUG": False,
                "ALLOWED_HOSTS": [],
                "CSRF_TRUSTED_ORIGINS": [],
                "DB": str(PROJECT_DIR / "db.sqlite3"),
                "STATIC_ROOT": str(PROJECT_DIR / "static-collected"),
                "MEDIA_ROOT": str(PROJECT_DIR / "media"),
                "ENGINE": "django.db.backends.sqlite3",
                "HOST": "",
                "STATIC_STORAGE": "StaticFilesStorage",
            },
        )
