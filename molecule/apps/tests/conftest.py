"""The default scenario's helpers (http_get, circusctl) and its diagnostics on failure."""

import importlib.util
import pathlib
import sys

DEFAULT_TESTS = pathlib.Path(__file__).resolve().parents[2] / "default" / "tests"
sys.path.insert(0, str(DEFAULT_TESTS))

_spec = importlib.util.spec_from_file_location("default_conftest", DEFAULT_TESTS / "conftest.py")
_default = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_default)
pytest_runtest_makereport = _default.pytest_runtest_makereport
