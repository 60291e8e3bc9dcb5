"""bench/publish.py: every results table in README.md and docs/ is what its committed data renders (CI runs
`--check` through this test), and the check fails on a hand-edited table or an unknown table name."""
from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def publish():
    spec = importlib.util.spec_from_file_location("bench_publish", ROOT / "bench" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_publish"] = module
    spec.loader.exec_module(module)
    return module


def test_every_published_table_matches_its_data(publish):
    out = io.StringIO()
    code = publish.publish(check=True, out=out)
    assert code == 0, "tables differ from their data (run `python bench/publish.py`):\n" + out.getvalue()[-4000:]


def test_the_readme_shows_the_main_job_table_as_check_prints_it(publish):
    """A fresh clone's `vaetheory check` prints `format_table` of its runs: README holds exactly that text."""
    import json

    from vaetheory.report.mainjob import format_table

    data = json.loads((ROOT / "bench" / "mainjob.json").read_text())
    summary = data["summary"]
    table = format_table(summary["runs"], summary.get("failed_variants") or None)
    assert f"```\n{table}\n```" in (ROOT / "README.md").read_text()
    assert data["measured_on"]["commit"]  # the data says which commit it was measured on


def test_every_table_names_its_data_and_commit(publish):
    text = "".join(p.read_text() for p in publish.documents())
    bodies = [m.group("body") for m in publish.MARKER.finditer(text)]
    assert len(bodies) >= 8 and all("Rendered by `python bench/publish.py` from `" in b for b in bodies)


def test_check_fails_on_a_hand_edited_table_and_an_unknown_name(publish, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- publish:mainjob-problems -->\n| made up | 1 |\n<!-- /publish:mainjob-problems -->\n")
    out = io.StringIO()
    assert publish.publish(check=True, files=[doc], out=out) == 1 and "made up" in out.getvalue()
    assert publish.publish(files=[doc], out=io.StringIO()) == 0  # rewriting it from the data
    assert publish.publish(check=True, files=[doc], out=io.StringIO()) == 0 and "made up" not in doc.read_text()
    doc.write_text("<!-- publish:no-such-table -->\n<!-- /publish:no-such-table -->\n")
    with pytest.raises(publish.DataError, match="unknown table 'no-such-table'"):
        publish.publish(check=True, files=[doc], out=io.StringIO())
