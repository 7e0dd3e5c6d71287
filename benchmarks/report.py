"""Present benchmark results: an aligned plain-text table and JSON files.

``write_results`` writes ``bench-<UTC timestamp>.json`` and ``latest.json`` into a directory
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
#: on NumPy a step is mostly single-threaded: CPU time well below wall time means waiting
CPU_WAIT_WARNING = 0.9


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
    bandwidth = meta.get("copy_bandwidth_GB_per_s")
    if bandwidth is not None:
        libs[-1] += f"; copy bandwidth {bandwidth:.1f} GB/s"
    sections = ", ".join(results.get("sections", ["kernels"]))
    return [
        f"powderkeg benchmarks: {sections} ({results['mode']}, seed {results['seed']}), "
        f"{meta['created_utc']}",
        f"backend {meta['backend']} on {device}; {meta['cpu_count']} CPUs "
        f"({meta['cpu_affinity']} usable; load {_load(meta)}); {meta['platform']}",
        ", ".join(libs),
    ]


def _firesale(results: dict[str, Any]) -> list[str]:
    if "firesale" not in results:
        return []
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
    if "loop" not in results:
        return []
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
    if "clearing" not in results:
        return []
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


def _iterations(found: dict[str, Any], name: str) -> str:
    """``mean/max`` iterations per step of one kernel, ``-`` when it never ran."""
    it = found.get(name)
    return "-" if not it else f"{it['mean']:.1f}/{it['max']}"


def _model_rows(model: dict[str, Any]) -> list[str]:
    rows = [r for r in model.get("rows", []) if "s_per_step" in r]
    lines: list[str] = []
    if rows:
        headers = [
            "E", "steps", "ms/step", "CPU ms", "steps/s", "world-steps/s", "vs E=1", "vs E=1 /E",
            "array ms", "overhead", "fire_sale rounds", "EN iters", "build s",
        ]  # fmt: skip
        body = [
            [
                str(r["E"]),
                str(r["steps"]),
                _fmt(r["s_per_step"] * 1e3, ".2f"),
                _fmt(r["cpu_s_per_step"] * 1e3, ".2f"),
                _fmt(r["steps_per_s"], ".1f"),
                _fmt(r["world_steps_per_s"], ".0f"),
                _fmt(r.get("vs_E1"), ".2f"),
                _fmt(r.get("vs_E1_per_world"), ".3f"),
                _fmt(None if "array_s_per_step" not in r else r["array_s_per_step"] * 1e3, ".2f"),
                _fmt(None if "overhead_share" not in r else 100 * r["overhead_share"], ".0f")
                + ("%" if "overhead_share" in r else ""),
                _iterations(r["kernel_iterations"], "fire_sale"),
                _iterations(r["kernel_iterations"], "eisenberg_noe"),
                _fmt(r["build_s"], ".2f"),
            ]
            for r in rows
        ]
        lines += _table(headers, body)
    for r in model.get("rows", []):
        if "skipped" in r:
            lines.append(f"  E={r['E']} skipped: {r['skipped']}")
        elif "error" in r:
            lines.append(f"  E={r['E']} failed: {r['error']}")
    return lines


def _model_phases(model: dict[str, Any]) -> list[str]:
    tables = [t for t in model.get("phases", []) if "rows" in t]
    lines: list[str] = []
    if tables:
        order: list[tuple[str, str, str | None]] = []
        for t in tables:
            for r in t["rows"]:
                key = (r["phase"], r["call"], r["parent"])
                if key not in order:
                    order.append(key)
        ordered: list[tuple[str, str, str | None]] = []

        def under(parent: str | None) -> None:  # each call right under the one it ran in
            for k in order:
                if k[2] == parent and k not in ordered and k[0] != "other":
                    ordered.append(k)
                    under(k[0])

        under(None)
        ordered += [k for k in order if k not in ordered]  # "other" last
        headers = ["phase", "call"]
        for t in tables:
            headers += [f"E={t['E']} ms/step", "share"]
        body = []
        for phase, call, parent in ordered:
            cells = [phase if parent is None else f"  {phase} (in {parent})", call]
            for t in tables:
                hit = next(
                    (r for r in t["rows"] if (r["phase"], r["parent"]) == (phase, parent)), None
                )
                cells += (
                    ["-", "-"]
                    if hit is None
                    else [_fmt(hit["s_per_step"] * 1e3, ".3f"), f"{100 * hit['share']:.0f}%"]
                )
            body.append(cells)
        step = ["step", "model.step"]
        for t in tables:
            step += [_fmt(t["s_per_step"] * 1e3, ".3f"), "100%"]
        body.append(step)
        steps = ", ".join(f"E={t['E']}: {t['steps']} steps" for t in tables)
        lines += [f"phases of one step (after a warm-up step; {steps}):", *_table(headers, body)]
        first = tables[0]
        if first.get("not_found"):
            lines.append(f"  not on this model: {', '.join(first['not_found'])}")
        if first.get("not_called"):
            lines.append(f"  not called in a step: {', '.join(first['not_called'])}")
    for t in model.get("phases", []):
        if "error" in t:
            lines.append(f"  phases E={t['E']} failed: {t['error']}")
    return lines


def _model_memory(model: dict[str, Any]) -> list[str]:
    """Memory per 1,000 worlds: the state, one step's peak temporaries, the hungriest calls."""
    lines: list[str] = []
    for m in model.get("memory", []):
        if "error" in m:
            lines.append(f"  memory E={m['E']} {m['dtype']} failed: {m['error']}")
            continue
        calls = ", ".join(f"{c['call']} {c['bytes'] / 2**20:.1f}" for c in m["call_peak_bytes"][:3])
        top = m["largest_state_arrays"][0]
        lines += [
            f"memory E={m['E']} {m['dtype']} ({m['source']}), GiB per 1,000 worlds: state "
            f"{m['state_gib_per_1000_worlds']:.3f} + step peak "
            f"{m['step_peak_gib_per_1000_worlds']:.3f} = {m['total_gib_per_1000_worlds']:.3f} "
            "(target <= 1)",
            f"  largest state array {top['name']} {tuple(top['shape'])} "
            f"{top['bytes'] / 2**20:.1f} MiB; peak calls (MiB): {calls}",
        ]
    return lines


def _model(results: dict[str, Any]) -> list[str]:
    model = results.get("model")
    if model is None:
        return []
    rows = [r for r in model.get("rows", []) if "N" in r]
    size = f"N={rows[0]['N']} agents, M={rows[0]['M']} assets" if rows else "sizes unknown"
    lines = [
        "",
        f"model: abm.model.Powderkeg, {model['plan']['cohorts']:,} retail cohorts ({size}), "
        "float64; rows: one untimed warm-up step, then timed weekly steps",
    ]
    base = model.get("baseline", {})
    if "error" in base:
        lines.append(f"full baseline failed: {base['error']}")
    elif base:
        met = "met" if base["meets_target"] else "NOT met"
        repeats = "/".join(f"{t:.2f}" for t in base["totals_s"])
        cut = (
            ""
            if base["complete"]
            else f" (cut at {base['steps_run']} steps by the budget; total extrapolated)"
        )
        lines.append(
            f"full baseline: E=1, {base['steps']} weeks, {base['cohorts']:,} cohorts, fresh model, "
            f"no warm-up: build {base['build_s']:.2f} s + steps {base['steps_s']:.2f} s "
            f"= {base['total_s']:.2f} s{cut}"
        )
        lines.append(
            f"  best of {base['repeats']} ({repeats} s); {base['steps_per_s']:.0f} steps/s, "
            f"{base['s_per_step'] * 1e3:.2f} ms/step, CPU {base['cpu_s']:.2f} s; "
            f"target < {base['target_s']:.0f} s on a 2-core CPU: {met}"
        )
    over = model.get("overhead", {})
    if "error" in over:
        lines.append(f"overhead row failed: {over['error']}")
    elif over:
        it = over["kernel_iterations"]
        lines.append(
            f"Python overhead per step (E=1, {over['cohorts']} cohorts, N={over['N']}: "
            f"almost no array work): {over['s_per_step'] * 1e3:.2f} ms "
            f"(fire_sale {_iterations(it, 'fire_sale')} rounds, "
            f"eisenberg_noe {_iterations(it, 'eisenberg_noe')} iterations per step, mean/max)"
        )
    lines.append(
        "vs E=1 = step time / E=1's over the same weeks; array ms = ms/step - overhead; "
        "iterations per step mean/max"
    )
    lines += _model_rows(model)
    if results["metadata"].get("backend") == "numpy":  # single-threaded work: CPU ~ wall
        waited = [
            f"E={r['E']} ({r['cpu_per_wall']:.2f})"
            for r in model.get("rows", [])
            if r.get("cpu_per_wall", 1.0) < CPU_WAIT_WARNING
        ]
        if waited:
            lines.append(
                f"  CPU/wall below {CPU_WAIT_WARNING} at {', '.join(waited)}: the process waited "
                "for a CPU (other load on the machine), so those wall times are inflated; "
                "CPU ms is the better figure there"
            )
    lines += _model_phases(model)
    lines += _model_memory(model)
    lines += [f"note: {n}" for n in model.get("notes", [])]
    return lines


def format_table(results: dict[str, Any]) -> str:
    """The results as plain aligned text, one section per benchmark."""
    parts = _header(results) + _firesale(results) + _loop(results) + _clearing(results)
    return "\n".join(parts + _model(results))


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
    """Write ``bench-<UTC timestamp>.json`` and ``latest.json`` into ``out_dir``.

    Returns:
        The two paths written, the timestamped one first.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(results), indent=2, allow_nan=False) + "\n"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"bench-{stamp}.json"
    suffix = 1
    while path.exists():  # never overwrite an earlier run
        path = out_dir / f"bench-{stamp}-{suffix}.json"
        suffix += 1
    _write_atomic(path, text)
    latest = out_dir / "latest.json"
    _write_atomic(latest, text)
    return [path, latest]
