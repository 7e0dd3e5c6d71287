"""The eight presets' results are bit-identical to the recorded fingerprints.

A refactor must not change one bit of any series, event, agent row or snapshot; a model change
records new fingerprints (``python scripts/preset_fingerprints.py --write``) in the same commit.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location(
    "preset_fingerprints", ROOT / "scripts" / "preset_fingerprints.py"
)
fingerprints = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(fingerprints)
RECORD = json.loads(fingerprints.RECORD.read_text())


@pytest.mark.parametrize("preset", sorted(RECORD))
def test_preset_results_match_their_fingerprints(preset):
    found = fingerprints.fingerprint(preset)
    assert fingerprints.compare({preset: found}, RECORD) == []


def test_a_changed_number_is_caught():
    record = {"baseline": dict(RECORD["baseline"])}
    found = {"baseline": dict(RECORD["baseline"])}
    found["baseline"]["series.defaults_total"] = "0" * 16
    assert fingerprints.compare(found, record) == ["baseline: series.defaults_total differs"]


def test_every_preset_is_recorded():
    from experiments.scenarios import preset_names

    assert sorted(RECORD) == sorted(preset_names())
