"""Fingerprints of the eight presets' results, to prove a refactor leaves every number unchanged.

Runs every preset for 104 weeks on 4 worlds (seed 7, 200 retail cohorts, NumPy, float64) and
hashes, bit for bit, each series column, the event log and the final per-agent table. A refactor
must keep every hash (docs/design.md, "Changing the code"); a model change records new ones with
``--write`` in the same commit and says why in its message::

    python scripts/preset_fingerprints.py            # compare with tests/data/…fingerprints.json
    python scripts/preset_fingerprints.py --write    # record the current results
    python scripts/preset_fingerprints.py --save DIR # also keep the series as Parquet, to diff

Exit status 0 when every hash matches, 1 otherwise (each difference is listed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "tests" / "data" / "preset_fingerprints.json"
#: the run every preset is fingerprinted on
WORLDS, WEEKS, SEED, COHORTS = 4, 104, 7, 200


def _hash(values: Any) -> str:
    """SHA-256 of an array's bytes (shape and dtype included), or of a string."""
    if isinstance(values, str):
        return hashlib.sha256(values.encode()).hexdigest()[:16]
    array = np.ascontiguousarray(values)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _frame_hashes(frame: pd.DataFrame, prefix: str) -> dict[str, str]:
    """One hash per column (object columns hashed as their text)."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object or str(column.dtype).startswith("str"):
            out[f"{prefix}{name}"] = _hash("\x1f".join(map(str, column.tolist())))
        else:
            out[f"{prefix}{name}"] = _hash(column.to_numpy())
    return out


def fingerprint(preset: str, save: Path | None = None) -> dict[str, str]:
    """Run ``preset`` on the fingerprint run; hash its series, events, agents and snapshots.

    Every key of the model's host snapshot is hashed over all steps too, so state that no
    series shows (a bank's central-bank loans, a firm's rating) is covered as well.
    """
    from abm.events import EventLog
    from abm.reporting import Recorder, agents_frame
    from experiments.build import build_model
    from experiments.scenarios import load_preset

    model = build_model(
        load_preset(preset), n_worlds=WORLDS, seed=SEED, backend="numpy", n_cohorts=COHORTS
    )
    recorder, events = Recorder(), EventLog(model)
    recorder.record(model)
    snapshots: dict[str, list[np.ndarray]] = {k: [v] for k, v in model.snapshot.items()}
    for _ in range(WEEKS):
        model.step()
        recorder.record(model)
        events.update(model)
        for key, value in model.snapshot.items():
            snapshots.setdefault(key, []).append(value)
    series, log = recorder.frame(), events.frame()
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        series.to_parquet(save / f"{preset}_series.parquet")
        log.to_csv(save / f"{preset}_events.csv", index=False)
        np.savez_compressed(save / f"{preset}_snapshots.npz", **{
            k: np.stack(v) for k, v in snapshots.items()
        })  # fmt: skip
    hashes = _frame_hashes(series, "series.")
    hashes["events"] = _hash(log.to_csv(index=False))
    hashes.update(_frame_hashes(agents_frame(model), "agents."))
    hashes.update({f"snapshot.{k}": _hash(np.stack(v)) for k, v in snapshots.items()})
    return hashes


def main(argv: list[str] | None = None) -> int:
    """Compare the presets' fingerprints with the record, or write a new record."""
    from experiments.scenarios import preset_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record the current fingerprints")
    parser.add_argument("--save", type=Path, help="also write each preset's series and events")
    parser.add_argument("--preset", action="append", help="only this preset (repeatable)")
    args = parser.parse_args(argv)
    presets = args.preset or list(preset_names())
    found = {name: fingerprint(name, args.save) for name in presets}
    if args.write:
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        record = json.loads(RECORD.read_text()) if RECORD.exists() and args.preset else {}
        record.update(found)
        RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(found)} presets in {RECORD.relative_to(ROOT)}")
        return 0
    differences = compare(found, json.loads(RECORD.read_text()))
    for line in differences:
        print(line)
    print("bit-identical" if not differences else f"{len(differences)} differences")
    return 1 if differences else 0


def compare(found: dict[str, dict[str, str]], record: dict[str, dict[str, str]]) -> list[str]:
    """One line per preset and key whose hash differs from the record, or is new or missing."""
    lines = []
    for preset, hashes in found.items():
        want = record.get(preset)
        if want is None:
            lines.append(f"{preset}: not in the record")
            continue
        for key in sorted(set(want) | set(hashes)):
            if want.get(key) != hashes.get(key):
                state = "missing" if key not in hashes else "new" if key not in want else "differs"
                lines.append(f"{preset}: {key} {state}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
