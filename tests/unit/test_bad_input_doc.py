"""docs/bad-input.md lists exactly the bad values the preflight tests run."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_bad_input_page_is_generated_from_the_cases():
    spec = importlib.util.spec_from_file_location("table", ROOT / "scripts" / "bad-input-table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    page = (ROOT / "docs" / "bad-input.md").read_text()
    assert page == table.render(), "run python3 scripts/bad-input-table.py > docs/bad-input.md"
    assert page.count("\n| ") == len(table.cases()[0]) + 2
