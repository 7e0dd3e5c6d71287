"""Fuzzing the command line and the file readers (issue 12, item 7).

Random flag values for every subcommand, random bytes and random TOML as scenario and sweep files:
bad input must end with exit status 2 and exactly one line on stderr that names the flag or the
file, never a traceback; nothing may be written outside the test's folder, and a marker file
already in an ``--out`` folder must survive. ``powderkeg`` runs in-process
(``experiments.cli.main``); the functions that do the work (the simulation, the sweep engine, the
replications, the report, the benchmarks) are replaced by a stub that raises :class:`WouldRun`, so
an example that is accepted stops before any simulation and every example takes milliseconds.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from experiments.cli import main
from experiments.scenarios import preset_names
from experiments.usage import LIMITS

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: the folders powderkeg writes to by default, inside the source tree
WATCHED = ("results", "benchmarks/results", "docs")

# Characters a user can type: no NUL (see the tests at the end) and no lone surrogates.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
)


class WouldRun(Exception):
    """Raised instead of the work: the command accepted its input."""


def _stop(*args: Any, **kwargs: Any) -> None:
    raise WouldRun


@pytest.fixture(autouse=True)
def no_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Replace the expensive work by :func:`_stop` and run in ``tmp_path/cwd``."""
    import benchmarks.suite
    import experiments.evidence_command
    import experiments.replications.command
    import experiments.report
    import experiments.run
    import experiments.sweeps.engine

    for module, name in (
        (experiments.run, "execute"),
        (experiments.evidence_command, "simulate"),
        (experiments.evidence_command, "run_ablation"),
        (experiments.sweeps.engine, "run_sweep"),
        (experiments.replications.command, "run_replications"),
        (experiments.report, "make_report"),
        (benchmarks.suite, "run"),
    ):
        monkeypatch.setattr(module, name, _stop)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # relative default outputs (results/...) land here


def _tree(folder: Path) -> dict[str, int]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(autouse=True, scope="module")
def source_tree_untouched():
    """No example writes into the source tree's output folders."""
    before = {name: _tree(ROOT / name) for name in WATCHED}
    yield
    assert {name: _tree(ROOT / name) for name in WATCHED} == before


def fresh(tmp_path: Path) -> Path:
    """A new folder per hypothesis example (``tmp_path`` is shared by all of them)."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int | None, str]:
    """``powderkeg *argv`` in-process: (exit status or None if it got to the work, stderr)."""
    capsys.readouterr()
    try:
        status = main(list(argv))
    except WouldRun:
        status = None
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return status, captured.err


def refused(status: int | None, err: str, *needles: str) -> str:
    """Exit status 2 and one line on stderr containing every needle."""
    assert status == 2, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def with_marker(folder: Path) -> Callable[[], None]:
    """Put a marker file in ``folder``; the returned check asserts it is still there, unchanged."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "keep-me.txt"
    marker.write_text("precious\n")

    def check() -> None:
        assert marker.read_text() == "precious\n"

    return check


def only_inside(root: Path, tmp_path: Path) -> None:
    """Everything the command created lies under ``tmp_path`` (the cwd is there too)."""
    for path in root.rglob("*"):
        assert tmp_path in path.parents


# ---------------------------------------------------------------------------------------------
# numeric flags: --worlds, --steps, --seed (run, evidence), --seed (validate, bench)


def _parses_within(text: str, lo: int, hi: float) -> bool:
    try:
        value = int(text.strip())
    except ValueError:
        return False
    return lo <= value <= hi


def bad_setting(name: str) -> st.SearchStrategy[str]:
    """Text that is not an integer within ``LIMITS[name]``."""
    lo, hi = LIMITS[name]
    numbers = st.one_of(
        st.integers(max_value=lo - 1),
        st.integers(min_value=hi + 1),
        st.floats(allow_nan=True, allow_infinity=True),
    ).map(str)
    return st.one_of(numbers, TEXT).filter(lambda t: not _parses_within(t, lo, hi))


RUN_FLAGS = {"--worlds": "n_worlds", "--steps": "steps", "--seed": "seed"}


@FUZZ
@given(flag=st.sampled_from(sorted(RUN_FLAGS)), data=st.data())
def test_run_bad_numbers(capsys, tmp_path, flag, data):
    value = data.draw(bad_setting(RUN_FLAGS[flag]))
    out = fresh(tmp_path) / "out"
    intact = with_marker(out)
    status, err = call(capsys, "run", f"{flag}={value}", "--out", str(out), "--backend", "numpy")
    refused(status, err, f"argument {flag}")
    intact()
    assert sorted(p.name for p in out.iterdir()) == ["keep-me.txt"]
    only_inside(tmp_path, tmp_path)


@FUZZ
@given(flag=st.sampled_from(sorted(RUN_FLAGS)), data=st.data())
def test_evidence_bad_numbers(capsys, tmp_path, flag, data):
    value = data.draw(bad_setting(RUN_FLAGS[flag]))
    out = fresh(tmp_path) / "evidence.md"
    status, err = call(capsys, "evidence", f"{flag}={value}", "--out", str(out))
    refused(status, err, f"argument {flag}")
    assert not out.exists()


NON_NEGATIVE = st.one_of(st.integers(max_value=-1).map(str), TEXT).filter(
    lambda t: not _parses_within(t, 0, math.inf)
)


@FUZZ
@given(command=st.sampled_from(["validate", "bench"]), value=NON_NEGATIVE)
def test_validate_and_bench_bad_seed(capsys, tmp_path, command, value):
    out = fresh(tmp_path) / "out"
    intact = with_marker(out)
    status, err = call(capsys, command, f"--seed={value}", "--out", str(out))
    refused(status, err, "argument --seed")
    intact()


@FUZZ
@given(
    command=st.sampled_from(["run", "evidence", "validate", "bench", "sweep", "report"]),
    flag=TEXT.map(lambda t: "--" + t.strip().replace(" ", "-")),
)
def test_unknown_flags(capsys, tmp_path, command, flag):
    known = {"--help", "--h", "--he", "--hel"}  # --help exits 0 by design
    assume(flag not in known and len(flag) > 2 and not flag.startswith("---"))
    assume("=" not in flag)
    folder = fresh(tmp_path)
    args = {"sweep": ["x.toml"], "report": [str(folder)], "bench": ["--out", str(folder)]}
    status, err = call(capsys, command, *args.get(command, []), flag)
    if status is None:  # the flag was an abbreviation-free known one: not our case
        return
    line = refused(status, err, f"powderkeg {command}")
    assert "unrecognized arguments" in line or "argument" in line or "error" in line


@FUZZ
@given(
    choice=st.sampled_from(
        [
            ("run", "--backend"),
            ("evidence", "--backend"),
            ("validate", "--size"),
            ("bench", "--dtype"),
            ("bench", "--only"),
            ("sweep", "--backend"),
        ]
    ),
    value=TEXT,
)
def test_bad_choices(capsys, tmp_path, choice, value):
    command, flag = choice
    allowed = {
        "--backend": ("auto", "numpy", "cupy"),
        "--size": ("ci", "full"),
        "--dtype": ("float32", "float64", "both"),
        "--only": ("kernels", "model", "all"),
    }[flag]
    assume(value not in allowed)
    args = ["x.toml"] if command == "sweep" else []
    status, err = call(capsys, command, *args, f"{flag}={value}")
    refused(status, err, f"argument {flag}")


# ---------------------------------------------------------------------------------------------
# text flags: --scenario (run), --presets / --ablation-preset / --out (evidence), NAME (validate)


@FUZZ
@given(name=TEXT.filter(lambda t: "/" not in t and not t.endswith(".toml")))
def test_run_unknown_scenario_name(capsys, tmp_path, name):
    assume(name not in preset_names() and not (Path.cwd() / name).exists())
    out = fresh(tmp_path) / "out"
    intact = with_marker(out)
    status, err = call(capsys, "run", "--scenario", name, "--out", str(out))
    refused(status, err, "scenario")
    intact()
    only_inside(tmp_path, tmp_path)


@FUZZ
@given(presets=TEXT)
def test_evidence_bad_presets(capsys, tmp_path, presets):
    names = [p.strip() for p in presets.split(",")]
    assume(not all(n in preset_names() for n in names))
    out = fresh(tmp_path) / "e.md"
    status, err = call(capsys, "evidence", f"--presets={presets}", "--out", str(out))
    refused(status, err, "argument --presets")
    assert not out.exists()


@FUZZ
@given(name=TEXT)
def test_evidence_bad_ablation_preset(capsys, tmp_path, name):
    assume(name.strip() not in preset_names())
    out = fresh(tmp_path) / "e.md"
    status, err = call(
        capsys, "evidence", "--ablation", f"--ablation-preset={name}", "--out", str(out)
    )
    refused(status, err, "--ablation-preset")


@FUZZ
@given(suffix=TEXT.filter(lambda t: not t.endswith(".md")))
def test_evidence_out_must_be_markdown(capsys, tmp_path, suffix):
    folder = fresh(tmp_path)
    out = folder / f"evidence{suffix}"
    assume(out.suffix != ".md" and "/" not in suffix)
    status, err = call(capsys, "evidence", "--out", str(out))
    refused(status, err, "argument --out")
    assert sorted(folder.iterdir()) == []


@FUZZ
@given(names=st.lists(TEXT.filter(lambda t: not t.startswith("-")), min_size=1, max_size=3))
def test_validate_unknown_names(capsys, tmp_path, names):
    from experiments.replications import REPLICATIONS

    assume(names != ["all"] and not all(n in REPLICATIONS for n in names))
    out = fresh(tmp_path) / "out"
    intact = with_marker(out)
    status, err = call(capsys, "validate", *names, "--out", str(out))
    refused(status, err, "argument NAME")
    intact()


@FUZZ
@given(name=TEXT)
def test_report_results_not_a_directory(capsys, tmp_path, name):
    folder = fresh(tmp_path)
    results = folder / ("r" + name.replace("/", "_"))
    if name:
        results.write_bytes(name.encode())  # a file, not a results directory
    status, err = call(capsys, "report", str(results), "--out", str(folder / "report"))
    refused(status, err, "argument RESULTS_DIR")


# ---------------------------------------------------------------------------------------------
# file readers: random bytes and random TOML as scenario and sweep files


def toml_value(depth: int = 0) -> st.SearchStrategy[str]:
    scalars = st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(
            lambda f: (
                "nan"
                if math.isnan(f)
                else ("inf" if f > 0 else "-inf")
                if math.isinf(f)
                else repr(f)
            )
        ),
        st.booleans().map(lambda b: "true" if b else "false"),
        TEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
        st.sampled_from(
            [
                '"baseline"',
                '"grid"',
                '"sobol"',
                '"policy.hedge_fund_leverage_cap"',
                "1979-05-27T07:32:00Z",
            ]
        ),
    )
    if depth >= 2:
        return scalars
    return st.one_of(
        scalars,
        st.lists(toml_value(depth + 1), max_size=3).map(lambda v: "[" + ", ".join(v) + "]"),
    )


KEYS = st.sampled_from(
    [
        "scenario",
        "description",
        "title",
        "story",
        "source",
        "steps",
        "worlds",
        "seed",
        "n_worlds",
        "n_cohorts",
        "kind",
        "samples",
        "name",
        "values",
        "low",
        "high",
        "num",
        "backend",
        "week",
        "size",
        "target",
        "zzz",
    ]
)
TABLES = st.sampled_from(
    ["model", "design", "policy", "compare", "[parameters]", "[shocks]", "unknown"]
)


@st.composite
def toml_documents(draw: Any) -> str:
    """TOML text that parses, made of the keys and tables the readers know, with random values."""
    lines = [f"{k} = {draw(toml_value())}" for k in draw(st.lists(KEYS, max_size=4, unique=True))]
    for table in draw(st.lists(TABLES, max_size=3, unique=True)):
        lines.append(f"[{table}]")
        keys = draw(st.lists(KEYS, max_size=4, unique=True))
        lines += [f"{k} = {draw(toml_value())}" for k in keys]
    return "\n".join(lines) + "\n"


FILE_CONTENTS = st.one_of(
    st.binary(max_size=200),
    TEXT.map(str.encode),
    toml_documents().map(str.encode),
    st.integers(33, 200).map(lambda n: ("a = " + "[" * n + "]" * n + "\n").encode()),  # deep
)


def _written(tmp_path: Path, content: bytes) -> Path:
    path = fresh(tmp_path) / "file.toml"
    path.write_bytes(content)
    return path


@FUZZ
@given(content=FILE_CONTENTS)
def test_run_scenario_file(capsys, tmp_path, content):
    path = _written(tmp_path, content)
    out = fresh(tmp_path) / "out"
    intact = with_marker(out)
    status, err = call(capsys, "run", "--scenario", str(path), "--out", str(out), "--force")
    if status is None:  # a valid scenario file: it got as far as the simulation
        return
    refused(status, err, str(path))
    intact()
    assert sorted(p.name for p in out.iterdir()) == ["keep-me.txt"]
    only_inside(tmp_path, tmp_path)


@FUZZ
@given(content=FILE_CONTENTS)
def test_sweep_file(capsys, tmp_path, content):
    path = _written(tmp_path, content)
    out = fresh(tmp_path) / "out"
    intact = with_marker(out)
    status, err = call(capsys, "sweep", str(path), "--out", str(out), "--backend", "numpy")
    if status is None:  # a valid sweep file: it got as far as the engine
        return
    refused(status, err, str(path))
    intact()
    assert sorted(p.name for p in out.iterdir()) == ["keep-me.txt"]
    only_inside(tmp_path, tmp_path)


@FUZZ
@given(content=FILE_CONTENTS)
def test_sweep_list_parameters_file(capsys, tmp_path, content):
    path = _written(tmp_path, content)
    status, err = call(capsys, "sweep", str(path), "--list-parameters")
    if status == 0:
        return
    refused(status, err, str(path))


@FUZZ
@given(content=st.binary(max_size=200))
def test_report_garbage_manifest(capsys, tmp_path, content):
    results = fresh(tmp_path)
    (results / "manifest.json").write_bytes(content)
    status, err = call(capsys, "report", str(results), "--out", str(results / "report"))
    if status is None:  # make_report is stubbed: its own reading is not reached here
        return
    refused(status, err, "RESULTS_DIR")


# ---------------------------------------------------------------------------------------------
# found by fuzzing: a NUL character or an over-long file name gave a traceback (exit 1), not a
# usage line; a failed report left an empty --out folder; --list-parameters named a bad scenario
# field differently from a sweep.

NUL_CASES = [
    pytest.param(["run", "--scenario", "x\x00/.toml"], "--scenario", id="run-scenario"),
    pytest.param(["validate", "--out", "v\x00"], "--out", id="validate-out"),
    pytest.param(["bench", "--out", "b\x00"], "--out", id="bench-out"),
    pytest.param(["sweep", "a" * 5000 + ".toml"], "FILE", id="sweep-long-name"),
    pytest.param(["run", "--out", "r\x00x", "--steps", "0"], "--out", id="run-out"),
    pytest.param(["evidence", "--out", "e\x00.md"], "--out", id="evidence-out"),
    pytest.param(["sweep", "s\x00.toml"], "FILE", id="sweep-file"),
    pytest.param(["sweep", "x.toml", "--out", "s\x00"], "--out", id="sweep-out"),
    pytest.param(["report", "r\x00"], "RESULTS_DIR", id="report-results"),
    pytest.param(["report", ".", "--out", "r\x00"], "--out", id="report-out"),
    pytest.param(["report", "a" * 5000], "RESULTS_DIR", id="report-long-name"),
]


@pytest.mark.parametrize(("argv", "flag"), NUL_CASES)
def test_nul_and_overlong_names_are_one_line(capsys, tmp_path, argv, flag):
    status, err = call(capsys, *argv)
    refused(status, err, flag)
    assert sorted(p.name for p in (tmp_path / "cwd").iterdir()) == []  # nothing created


def test_sweep_scenario_too_long_is_one_line(capsys, tmp_path):
    path = _written(tmp_path, f'scenario = "{"b" * 5000}.toml"\n'.encode())
    for extra in ([], ["--list-parameters"]):
        status, err = call(capsys, "sweep", str(path), *extra)
        refused(status, err, str(path), "File name too long")


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("scenario = 3", "scenario: must be a valid string; got 3"),
        ('scenario = ""', "scenario: String should have at least 1 character"),
        ("name = 'x'", "missing field 'scenario'"),
    ],
)
def test_list_parameters_names_the_scenario_field_as_a_sweep_does(capsys, tmp_path, line, needle):
    path = _written(tmp_path, f"{line}\n".encode())
    out = fresh(tmp_path) / "out"
    status, err = call(capsys, "sweep", str(path), "--out", str(out), "--backend", "numpy")
    sweep_line = refused(status, err, str(path), needle)
    status, err = call(capsys, "sweep", str(path), "--list-parameters")
    assert refused(status, err, str(path), needle) == sweep_line
    assert not out.exists()


def test_report_bad_manifest_creates_no_out_folder(capsys, tmp_path):
    results = fresh(tmp_path)
    out = tmp_path / "new" / "report"
    status, err = call(capsys, "report", str(results), "--out", str(out))
    refused(status, err, "argument RESULTS_DIR", "manifest.json")
    assert not (tmp_path / "new").exists()


def test_report_failure_removes_the_out_folders_it_made(capsys, tmp_path, monkeypatch):
    import experiments.report
    from experiments.sweeps.store import MANIFEST, SCHEMA
    from experiments.usage import UsageError

    def no_point(results: Path, out: Path, **kwargs: Any) -> Path:
        assert out.is_dir()
        raise UsageError(f"argument RESULTS_DIR: {results} has no finished point yet")

    monkeypatch.setattr(experiments.report, "make_report", no_point)
    results = fresh(tmp_path)
    (results / MANIFEST).write_text(json.dumps({"schema": SCHEMA}))
    existing = fresh(tmp_path)
    status, err = call(capsys, "report", str(results), "--out", str(existing / "a" / "b"))
    refused(status, err, "no finished point yet")
    assert existing.is_dir() and list(existing.iterdir()) == []  # kept: it was there before
    status, err = call(capsys, "report", str(results))  # the default, RESULTS_DIR/report
    refused(status, err, "no finished point yet")
    assert sorted(p.name for p in results.iterdir()) == [MANIFEST]
