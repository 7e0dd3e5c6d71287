"""The historical back-tests (experiments/backtests.py, powderkeg backtests, docs/backtests.md).

Bad episode files and flags are one line (exit status 2); the reductions read a weekly path as
documented; the episode's calibration replaces only its leaves; and at CI size (3 worlds, 20
cohorts, every episode's full length) each moment that passes in docs/backtests.md passes again.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from experiments.backtests import (
    EPISODE_DIR,
    Moment,
    check_episode,
    episode_calibration,
    episode_names,
    load_episode,
    load_episodes,
    reduce_path,
    run_episode,
    verdict,
)
from experiments.cli import main
from experiments.usage import UsageError

DOC_JSON = Path(__file__).resolve().parents[1] / "docs" / "backtests.json"


def _minimal() -> dict:
    """A valid episode: one re-calibrated leaf, one shock, one moment."""
    return {
        "name": "test_episode",
        "title": "A test",
        "period": "two weeks",
        "story": "a story",
        "source": "a source",
        "held": "the rest",
        "steps": 2,
        "recalibrate": [
            {"path": "macro.us.policy_rate", "value": 0.05, "period": "2000", "source": "FOMC"}
        ],
        "shocks": [{"kind": "crypto_sentiment", "week": 1, "size": -0.2, "source": "x"}],
        "moments": [
            {
                "name": "crypto_low",
                "label": "crypto low",
                "quantity": "series:crypto_price",
                "reduce": "min",
                "data": 0.8,
                "unit": "USD",
                "data_source": "x",
                "low": 0.7,
                "high": 0.9,
                "tolerance": "why",
                "role": "input",
            }
        ],
    }


def _check(data: dict) -> object:
    return check_episode(data, "episode file test_episode.toml", Path("test_episode.toml"))


def test_the_minimal_episode_is_valid_and_every_shipped_episode_loads():
    episode = _check(_minimal())
    assert episode.moments[0].weeks == (0, 2)
    assert len(episode_names()) >= 5
    for ep in load_episodes():
        assert ep.moments and Path(ep.path).parent == EPISODE_DIR


def _set(data: dict, where: str, value: object) -> dict:
    """``data`` with the dotted field ``where`` (``moments.0.reduce``) set; None deletes it."""
    node, *path, last = [data, *where.split(".")]
    for key in path:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("colour", "red", "unknown key 'colour'"),
        ("name", "other", "name must be the file's stem"),
        ("steps", 0, "steps must be an integer from 1 to 520"),
        ("held", None, "held must be a non-empty string"),
        ("shocks.0.week", 3, "after the episode's last week 2"),
        ("shocks.0.kind", "meteor", "kind"),
        ("recalibrate.0.path", "macro.us.nowhere", "is not a numeric leaf"),
        ("recalibrate.0.scale", 2.0, "give one of value"),
        ("moments.0.reduce", "median", "reduce must be one of"),
        ("moments.0.role", "guess", "role must be one of"),
        ("moments.0.weeks", [0, 3], "weeks must be [first, last]"),
        ("moments.0.low", 1.0, "low must not exceed high"),
        ("moments.0.data", "high", "data must be a finite number"),
        ("moments.0.quantity", "series:nothing", "no series 'nothing'"),
        ("moments.0.quantity", "defaults:bank:martian", "is not in the roster"),
        ("moments.0.quantity", "price:gold", "quantity must be series:"),
        ("moments.0.quantity", "charge_off_rate:martian", "banks by kind or name"),
        ("moments.0.quantity", "book_loss:bank:us:moon_rock", "unknown asset"),
        ("moments.0.tolerance", None, "tolerance must be a non-empty string"),
        ("moments", [], "at least one [[moments]]"),
    ],
)
def test_a_bad_episode_file_is_one_line_naming_the_field(field, value, message):
    with pytest.raises(UsageError) as err:
        _check(_set(_minimal(), field, value))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_share_groups_must_still_sum_to_one():
    data = _minimal()
    data["recalibrate"] = [
        {"path": "stablecoins.usdc.reserve_mix.tbills", "value": 0.5, "period": "x",
         "source": "x"}
    ]  # fmt: skip
    with pytest.raises(UsageError, match=r"stablecoins\.usdc\.reserve_mix sum to"):
        _check(data)


def test_a_bad_file_on_disk_is_a_usage_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\nsteps = [')
    with pytest.raises(UsageError, match="not valid TOML"):
        load_episode(path)


def test_the_episode_calibration_replaces_only_its_leaves_and_rescales_eu_banks():
    from abm.calibration import load_calibration

    base = load_calibration()
    ep = load_episode(EPISODE_DIR / "2007_gfc.toml")
    cal = episode_calibration(ep)
    assert cal.value("macro.us.policy_rate") == 0.0525
    assert cal.value("macro.euro_area.yield_10y") == base.value("macro.euro_area.yield_10y")
    ratio = 0.578 / float(base.value("banks.eu.cet1_scale"))
    assert cal.eu_banks[0].cet1 == pytest.approx(base.eu_banks[0].cet1 * ratio)
    assert cal.eu_banks[0].total_assets == base.eu_banks[0].total_assets
    assert load_calibration().value("macro.us.policy_rate") == base.value("macro.us.policy_rate")


def test_the_reductions_read_a_weekly_path_as_documented():
    path = np.array([[1.0], [0.5], [0.8], [0.4], [1.2]])  # weeks 0..4, one world

    def moment(reduce: str, **extra: object) -> Moment:
        fields = dict(name="m", label="m", quantity="series:x", reduce=reduce, weeks=(0, 4),
                      threshold=None, scale=1.0, data=0.0, unit="", data_source="", low=0.0,
                      high=1.0, tolerance="", role="input")  # fmt: skip
        return Moment(**{**fields, **extra})

    assert reduce_path(moment("drawdown"), path)[0] == pytest.approx(0.6)
    assert reduce_path(moment("run_up"), path)[0] == pytest.approx(0.8)
    assert reduce_path(moment("rise"), path)[0] == pytest.approx(0.2)
    assert reduce_path(moment("fall", scale=100.0), path)[0] == pytest.approx(60.0)
    assert reduce_path(moment("weeks_below", threshold=0.9, weeks=(1, 4)), path)[0] == 3
    assert reduce_path(moment("last", weeks=(0, 2)), path)[0] == 0.8
    m = moment("min")
    assert not verdict(m, np.array([np.nan, np.nan]))["passed"]
    assert verdict(m, np.array([0.2, 0.4, 0.6]))["passed"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--worlds", "0"], "--worlds"),
        (["--episodes", "1929_crash"], "unknown episode '1929_crash'"),
        (["--episodes", "2000_dotcom,2000_dotcom"], "named twice"),
        (["--out", "/tmp/backtests.txt"], "ending in .md"),
        (["--steps", "4"], "unrecognized arguments"),
    ],
)
def test_bad_flags_are_one_line_and_exit_status_2(argv, message, capsys):
    assert main(["backtests", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_command_writes_the_table_and_its_data(tmp_path, capsys):
    out = tmp_path / "bt.md"
    argv = ["backtests", "--worlds", "2", "--cohorts", "8", "--episodes", "2022_terra_ust",
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    text = out.read_text()
    assert "powderkeg backtests --worlds 2" in text and "git commit" in text
    assert "| Tether's lowest value |" in text
    record = json.loads(out.with_suffix(".json").read_text())
    assert len(record["episodes"]["2022_terra_ust"]["tether_peg_low"]["worlds"]) == 2
    assert out.with_suffix(".csv").read_text().startswith("episode,moment,world,value")


def _passing_in_the_doc() -> list[tuple[str, str]]:
    if not DOC_JSON.exists():
        return []
    episodes = json.loads(DOC_JSON.read_text())["episodes"]
    return [(ep, m) for ep, ms in episodes.items() for m, v in ms.items() if v["passed"]]


@pytest.fixture(scope="module")
def ci_runs() -> dict[str, dict[str, np.ndarray]]:
    """The episodes with a passing moment at CI size: 3 worlds, 20 cohorts, full length."""
    names = sorted({ep for ep, _ in _passing_in_the_doc()})
    return {name: run_episode(load_episode(EPISODE_DIR / f"{name}.toml"), worlds=3, seed=0,
                              cohorts=20) for name in names}  # fmt: skip


@pytest.mark.parametrize(("episode", "moment"), _passing_in_the_doc())
def test_a_moment_that_passes_in_the_doc_passes_at_ci_size(episode, moment, ci_runs):
    ep = load_episode(EPISODE_DIR / f"{episode}.toml")
    spec = next(m for m in ep.moments if m.name == moment)
    result = verdict(spec, ci_runs[episode][moment])
    assert result["passed"], (episode, moment, result)


def test_the_doc_lists_every_episode_file():
    if not DOC_JSON.exists():
        pytest.skip("docs/backtests.json not generated yet")
    record = json.loads(DOC_JSON.read_text())
    assert sorted(record["episodes"]) == sorted(episode_names())
    for name in episode_names():
        spec = tomllib.loads((EPISODE_DIR / f"{name}.toml").read_text())
        assert sorted(record["episodes"][name]) == sorted(m["name"] for m in spec["moments"])
