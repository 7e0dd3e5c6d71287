"""scripts/regenerate_docs.py: its commands are the documents' own, and its job graph keeps order.

The real steps take hours; the scheduler is run here on small Python commands that write when they
start and end, and the commands are checked against the command each document names in its header.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "regenerate_docs.py"
spec = importlib.util.spec_from_file_location("regenerate_docs", SCRIPT)
regen = importlib.util.module_from_spec(spec)
sys.modules["regenerate_docs"] = regen
spec.loader.exec_module(regen)

#: the document whose header names each powderkeg step's command
HEADERS = {
    "evidence": "docs/scenarios.md",
    "ablation": "docs/ablation.md",
    "audit": "docs/calibration-audit.md",
    "backtests": "docs/backtests.md",
    "systemic": "docs/systemic.md",
    "seed-targets": "docs/seed-targets.md",
}


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_each_step_runs_the_command_its_document_names(name):
    step = next(s for s in regen.STEPS if s.name == name)
    assert step.command[:3] == (sys.executable, "-m", "experiments.cli")
    command = "powderkeg " + " ".join(step.command[3:])
    assert command in (ROOT / HEADERS[name]).read_text()


def test_the_audit_page_is_written_again_after_the_scenario_table_and_every_step_is_known():
    names = [s.name for s in regen.STEPS]
    assert len(set(names)) == len(names)
    steps = {s.name: s for s in regen.STEPS}
    assert steps["audit"].after == () and names.index("audit") < 2
    assert set(steps["audit-table"].after) == {"evidence", "audit"}
    assert steps["audit-table"].command[3:] == ("audit", "--rerender")
    assert all(set(s.after) <= set(names) for s in regen.STEPS)


def _step(name: str, folder: Path, seconds: float, code: int = 0, after: tuple = ()):
    """A step that records its start and end times, sleeps, and exits with ``code``."""
    script = (
        "import sys, time; from pathlib import Path; "
        f"p = Path({str(folder / name)!r}); p.write_text(f'{{time.time()}}\\n'); "
        f"time.sleep({seconds}); p.write_text(p.read_text() + f'{{time.time()}}\\n'); "
        f"sys.exit({code})"
    )
    return regen.Step(name, (sys.executable, "-c", script), after)


def _span(folder: Path, name: str) -> tuple[float, float]:
    start, end = (float(x) for x in (folder / name).read_text().split())
    return start, end


def test_steps_run_two_at_a_time_and_after_their_prerequisites(tmp_path):
    steps = [
        _step("long", tmp_path, 0.6),
        _step("short", tmp_path, 0.1),
        _step("needs_long", tmp_path, 0.1, after=("long",)),
        _step("third", tmp_path, 0.1),
    ]
    out = io.StringIO()
    status = regen.run_steps(steps, jobs=2, logs=tmp_path / "logs", out=out, poll_s=0.02)
    assert status == {n: "ok" for n in ("long", "short", "needs_long", "third")}
    spans = {s.name: _span(tmp_path, s.name) for s in steps}
    assert spans["needs_long"][0] >= spans["long"][1]
    for t in (start for start, _ in spans.values()):
        assert sum(a <= t < b for a, b in spans.values()) <= 2
    assert (tmp_path / "logs" / "long.log").exists()
    assert "done  needs_long" in out.getvalue()


def test_a_failed_step_skips_what_needs_it_and_nothing_else(tmp_path):
    steps = [
        _step("broken", tmp_path, 0.05, code=3),
        _step("needs_broken", tmp_path, 0.05, after=("broken",)),
        _step("needs_that", tmp_path, 0.05, after=("needs_broken",)),
        _step("other", tmp_path, 0.05),
    ]
    out = io.StringIO()
    status = regen.run_steps(steps, jobs=1, logs=tmp_path / "logs", out=out, poll_s=0.02)
    assert status == {
        "broken": "failed",
        "needs_broken": "skipped",
        "needs_that": "skipped",
        "other": "ok",
    }
    assert not (tmp_path / "needs_broken").exists()
    assert "FAIL  broken" in out.getvalue() and "exit 3" in out.getvalue()


def test_bad_flags_get_one_message_and_exit_code_2(capsys):
    assert regen.main(["--only", "evidence,nonsense", "--dry-run"]) == 2
    assert "--only: unknown step nonsense" in capsys.readouterr().err
    assert regen.main(["--jobs", "0"]) == 2
    assert "--jobs: 0 is not allowed" in capsys.readouterr().err


def test_only_keeps_the_named_steps_and_drops_prerequisites_not_named(capsys):
    assert regen.main(["--only", "audit,backtests", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["audit", "backtests"]
    assert "after" not in lines[0]


def test_each_table_copied_by_hand_comes_from_a_step_and_has_its_section():
    names = {s.name for s in regen.STEPS}
    design = (ROOT / "docs" / "design.md").read_text()
    for name, section in regen.COPIED_BY_HAND.items():
        assert name in names and section in design, name
