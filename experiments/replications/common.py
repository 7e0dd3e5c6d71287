"""What every replication shares: its outcome record, sizes, seeds and the files it writes.

A replication module exposes ``NAME``, ``TITLE``, ``SIZES`` (at least ``"ci"`` and ``"full"``)
and ``run(size, seed, backend) -> Outcome``. The outcome carries the numbers (a JSON-safe dict),
a long table (one row per sweep point, for the CSV), the figure (a function that draws it to a
path) and the Markdown section of ``docs/validation.md`` (a function of the numbers and the
figure's relative path), so the document's numbers are always the ones the run produced.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SIZES = ("ci", "full")


@dataclass(frozen=True)
class Fact:
    """One stylized fact checked on the numbers: what the paper says and whether ours shows it.

    Attributes:
        claim: the fact in one sentence, as the paper states it.
        measure: how it is measured here, with the measured value(s).
        holds: whether our run shows it.
    """

    claim: str
    measure: str
    holds: bool


@dataclass(frozen=True)
class Check:
    """One of the paper's own numbers against ours, with a tolerance fixed before the run.

    Attributes:
        quantity: what is compared, in words (with its unit).
        source: where the paper's value comes from (table, figure, equation or code and commit).
        data: the paper's value, as shown in the document.
        ours: our value, as shown in the document.
        tolerance: the allowed gap, in words.
        reason: why that tolerance (written with the tolerance, before the result was known).
        passed: whether ours is within the tolerance.
        note: for a failure, why it fails (empty when it passes).
    """

    quantity: str
    source: str
    data: str
    ours: str
    tolerance: str
    reason: str
    passed: bool
    note: str = ""


@dataclass
class Outcome:
    """Everything one replication run produced.

    Attributes:
        name: the replication's name (file stem of its outputs).
        title: a heading for the document.
        size: ``"ci"`` or ``"full"``.
        seed: the seed of every random draw.
        numbers: JSON-safe summary numbers (read back to rebuild the document).
        rows: the long table written as CSV, one dict per row with the same keys.
        facts: the stylized facts checked on ``numbers``.
        draw: writes the figure (PNG) to the path it is given.
        checks: the paper's own numbers against ours (``Check``), if the replication has them.
    """

    name: str
    title: str
    size: str
    seed: int
    numbers: dict[str, Any]
    rows: list[dict[str, Any]]
    facts: list[Fact]
    draw: Callable[[Path], None]
    checks: list[Check] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The JSON document of this outcome: name, size, seed, numbers and facts."""
        return json_ready(
            {
                "name": self.name,
                "title": self.title,
                "size": self.size,
                "seed": self.seed,
                "numbers": self.numbers,
                "facts": [
                    {"claim": f.claim, "measure": f.measure, "holds": f.holds} for f in self.facts
                ],
                "checks": [c.__dict__ for c in self.checks],
            }
        )


def json_ready(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays made plain and non-finite floats made None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else None
    return value


def write_json(record: dict[str, Any], path: Path) -> None:
    """Write ``record`` as indented JSON (no NaN: non-finite values are already None)."""
    path.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows of equal keys as CSV with a header (an empty file when there are none)."""
    with path.open("w", newline="") as handle:
        if not rows:
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(json_ready(row))


def check_size(size: str) -> None:
    """Reject a size other than ``ci`` or ``full`` with a message naming the allowed ones."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}; got {size!r}")


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for the document: ``digits`` significant figures, ``n/a`` for None or NaN."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}"


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub Markdown table from a header and rows of cells (already formatted)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def facts_list(facts: list[dict[str, Any]] | list[Fact]) -> str:
    """The checked stylized facts as a Markdown list: ✓ or ✗, the claim, then the measurement."""
    lines = []
    for fact in facts:
        item = fact if isinstance(fact, dict) else fact.__dict__
        mark = "✓" if item["holds"] else "✗ (not shown)"
        lines.append(f"- {mark} **{item['claim']}** {item['measure']}")
    return "\n".join(lines)


def checks_table(checks: list[dict[str, Any]] | list[Check]) -> str:
    """The paper's numbers against ours as a Markdown table with PASS or FAIL, then the notes.

    A failing check stays in the table, with its explanation below it.
    """
    items = [c if isinstance(c, dict) else c.__dict__ for c in checks]
    rows = [
        [
            k,
            c["quantity"],
            f"{c['data']} ({c['source']})",
            c["ours"],
            f"{c['tolerance']} "
            + ("(reason as above)" if k > 1 and c["reason"] == items[k - 2]["reason"] else
               f"({c['reason']})"),
            "**PASS**" if c["passed"] else "**FAIL**",
        ]
        for k, c in enumerate(items, start=1)
    ]  # fmt: skip
    table = markdown_table(
        ["#", "quantity", "paper (source)", "ours", "tolerance (reason)", "result"], rows
    )
    notes = [f"- Check {k} fails: {c['note']}" for k, c in enumerate(items, start=1) if c["note"]]
    return table + ("\n\n" + "\n".join(notes) if notes else "")


def new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1) -> tuple[Any, Any]:
    """A matplotlib figure (Agg, no display) with a grid of axes, constrained layout."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes
