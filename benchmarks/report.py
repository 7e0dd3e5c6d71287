"""Present benchmark results: an aligned plain-text table and JSON files.

``write_results`` writes ``kernels-<UTC timestamp>.json`` and ``latest.json`` into a directory
(``benchmarks/results/`` by default), each written to a temporary file first and then renamed,
so an interrupted run never leaves half a file behind.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Right-aligned columns (the first left-aligned), two spaces apart."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        first = str(cells[0]).ljust(widths[0])
        rest = (str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=False))
        return "  ".join([first, *rest]).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _load(meta: dict[str, Any]) -> str:
    """Load average (1 min) at start and end of the run: other work skews timings."""
    start, end = meta.get("load_average_at_start"), meta.get("load_average_at_end")
    if not start or not end:
        return "unknown"
    return f"{start[0]:.1f} at start, {end[0]:.1f} at end"


def _header(results: dict[str, Any]) -> list[str]:
    meta = results["metadata"]
    v = meta["versions"]
    device = meta["device"] + (f" ({meta['device_name']})" if meta.get("device_name") else "")
    libs = [
        f"Python {v['python']}",
        f"numpy {v['numpy']}",
        f"array-api-compat {v['array_api_compat']}",
    ]
    if v.get("cupy"):
        libs.append(f"cupy {v['cupy']}")
    if v.get("blas"):
        libs.append(f"BLAS {v['blas']}")
    return [
        f"powderkeg kernel benchmarks ({results['mode']}, seed {results['seed']}), "
        f"{meta['created_utc']}",
        f"backend {meta['backend']} on {device}; {meta['cpu_count']} CPUs "
        f"({meta['cpu_affinity']} usable; load {_load(meta)}); {meta['platform']}",
        ", ".join(libs) + f"; copy bandwidth {meta['copy_bandwidth_GB_per_s']:.1f} GB/s",
    ]


def _firesale(results: dict[str, Any]) -> list[str]:
    rows = results["firesale"]["rows"]
    if not rows:
        return []
    first = rows[0]
    lines = [
        "",
        f"fire_sale: N={first['N']} holders, M={first['M']} assets; rounds = result.iterations "
        "(ran = rounds computed, incl. the check block); best of k after a warm-up call;",
        "updates/s and GB/s count the rounds each world was active (N*M holder-asset updates and "
        "2NM+5N words per world-round)",
    ]
    headers = [
        "dtype", "E", "rounds", "ran", "world min/med/max", "conv", "best ms", "us/round",
        "rounds/s", "updates/s", "GB/s", "bw %", "defaulted",
    ]  # fmt: skip
    body = [
        [
            r["dtype"],
            str(r["E"]),
            str(r["rounds"]),
            _fmt(r["rounds_executed"], "d"),
            f"{r['world_rounds_min']}/{r['world_rounds_median']:g}/{r['world_rounds_max']}",
            _yes(r["converged"]),
            _fmt(r["best_s"] * 1e3, ".2f"),
            _fmt(r["s_per_round"] * 1e6, ".1f"),
            _fmt(r["rounds_per_s"], ".0f"),
            _fmt(r["updates_per_s"], ".3g"),
            _fmt(r["compulsory_GB_per_s"], ".2f"),
            _fmt(None if r["bandwidth_fraction"] is None else 100 * r["bandwidth_fraction"], ".0f"),
            f"{100 * r['defaulted_share']:.1f}%",
        ]
        for r in rows
    ]
    return lines + _table(headers, body)


def _loop(results: dict[str, Any]) -> list[str]:
    loop = results["loop"]
    title = (
        f"per-agent loop {loop['reference']} vs fire_sale "
        f"(E=1, N={loop['N']}, M={loop['M']}, kernel {loop.get('kernel_dtype')})"
    )
    if loop["status"] != "ok":
        return ["", title, f"  skipped: {loop['note']}"]
    lines = [
        "",
        title,
        f"  loop:   {loop['rounds']} rounds, converged {_yes(loop['converged'])}, "
        f"best {loop['best_s'] * 1e3:.1f} ms of {loop['repeats']}, "
        f"{loop['s_per_round'] * 1e3:.3f} ms/round",
    ]
    if "ratio_per_round" not in loop:
        return [*lines, f"  {loop.get('note', '')}"]
    if loop["meets_target"] is None:
        met = f"applies at N={loop['target_holders']}, not here"
    else:
        met = "met" if loop["meets_target"] else "NOT met"
    return [
        *lines,
        f"  kernel: {loop['kernel_rounds']} rounds, "
        f"{loop['kernel_s_per_round'] * 1e3:.3f} ms/round",
        f"  kernel vs loop per round: {loop['ratio_per_round']:.0f}x "
        f"(per call {loop['ratio_per_call']:.0f}x; target >= {loop['target_ratio']:.0f}x: {met})",
        f"  final prices: max |diff| = {loop['max_abs_price_diff']:.2e} "
        f"(relative {loop['max_rel_price_diff']:.2e})",
    ]


def _clearing(results: dict[str, Any]) -> list[str]:
    rows = results["clearing"]["rows"]
    if not rows:
        return []
    setup = results["clearing"]["instance"]
    lines = [
        "",
        f"eisenberg_noe (float64): sparse random liabilities, {setup['creditors']} creditors "
        "each; some institutions short",
    ]
    headers = ["N", "E", "iterations", "conv", "defaulted", "best ms", "us/iter"]
    body = [
        [
            str(r["N"]),
            str(r["E"]),
            str(r["iterations"]),
            _yes(r["converged"]),
            f"{100 * r['defaulted_share']:.1f}%",
            _fmt(r["best_s"] * 1e3, ".2f"),
            _fmt(r["s_per_iteration"] * 1e6, ".1f"),
        ]
        for r in rows
        if "skipped" not in r
    ]
    skipped = [f"  N={r['N']} E={r['E']} skipped: {r['skipped']}" for r in rows if "skipped" in r]
    return lines + _table(headers, body) + skipped


def format_table(results: dict[str, Any]) -> str:
    """The results as plain aligned text, one section per benchmark."""
    return "\n".join(_header(results) + _firesale(results) + _loop(results) + _clearing(results))


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities by None, recursively, so the JSON is standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(results: dict[str, Any], out_dir: Path = RESULTS_DIR) -> list[Path]:
    """Write ``kernels-<UTC timestamp>.json`` and ``latest.json`` into ``out_dir``.

    Returns:
        The two paths written, the timestamped one first.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(results), indent=2, allow_nan=False) + "\n"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"kernels-{stamp}.json"
    suffix = 1
    while path.exists():  # never overwrite an earlier run
        path = out_dir / f"kernels-{stamp}-{suffix}.json"
        suffix += 1
    _write_atomic(path, text)
    latest = out_dir / "latest.json"
    _write_atomic(latest, text)
    return [path, latest]
