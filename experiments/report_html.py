"""The HTML of ``powderkeg report``: one self-contained page of tables and figures.

:func:`render_html` puts a header with the sweep's facts (scenario, design, points finished,
worlds and weeks per point, seeds, code version) above the report's sections; the sections are
built from :func:`table_html` (a DataFrame as a table), :func:`figure_html` (a PNG beside the
page with its caption) and :func:`ablation_html` (a channel ablation and its amplification).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from experiments.sweeps.plots import label_value


def table_html(frame: Any, digits: int = 4, headers: Mapping[str, str] | None = None) -> str:
    """``frame`` as an HTML table: index as row headers, floats to ``digits`` significant digits.

    ``headers``: column titles in words (with units), shown above the column's own name.
    """
    titles = headers or {}

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if not math.isfinite(v) else f"{v:.{digits}g}"
        return html.escape(label_value(v))

    def head_cell(column: Any) -> str:
        name = html.escape(str(column))
        if str(column) in titles:
            return f"<th>{html.escape(titles[str(column)])}<br><code>{name}</code></th>"
        return f"<th>{name}</th>"

    head = "".join(head_cell(c) for c in [frame.index.name or "", *frame])
    rows = [
        "<tr><th>"
        + html.escape(label_value(i))
        + "</th>"
        + "".join(f"<td>{fmt(v)}</td>" for v in row)
        + "</tr>"
        for i, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def ablation_html(label: str, summary: dict[str, Any]) -> str:
    """An ablation summary (:meth:`experiments.evidence.Ablation.summary`) and its verdict."""
    import pandas as pd

    frame = pd.DataFrame(summary["configurations"]).T
    frame.index.name = "channels on"
    lines = [f"<h3>{html.escape(label)}</h3>", table_html(frame)]
    if "amplification" in summary:
        ratio = summary["amplification"]
        verdict = "super-additive" if ratio > 1 else "not super-additive"
        lines.append(
            f"<p>Sum of single-channel effects {summary['sum_of_singles_usd_bn']:,.0f} USD bn; "
            f"all channels together {summary['all_together_usd_bn']:,.0f} USD bn; "
            f"amplification {ratio:.2f} ({verdict}).</p>"
            if math.isfinite(ratio)
            else "<p>Amplification: n/a (single-channel effects sum to zero).</p>"
        )
    return "\n".join(lines)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
thead th { background: #f0f0f0; vertical-align: bottom; }
th code { font-weight: normal; color: #555; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.3em 0; }
.note { color: #555; font-size: 0.9em; }
"""


def render_html(sections: list[tuple[str, str]], manifest: dict[str, Any]) -> str:
    """The whole page: a header with the sweep's facts, then each (title, body) section."""
    plan, status = manifest["plan"], manifest["status"]
    spec = plan["sweep"]
    sessions = manifest.get("sessions", [])
    git = (sessions[-1].get("git") or {}) if sessions else {}
    facts = [
        f"scenario <b>{html.escape(plan['scenario']['name'])}</b>",
        f"{spec['design']['kind']} design, {status.get('finished')}/{status.get('total')} "
        "points finished",
        f"{spec['worlds']} worlds × {spec['steps']} weeks per point, seed {spec['seed']} "
        f"({spec['seeds']} seeds)",
        f"code {html.escape(str(sessions[-1].get('version') if sessions else None))}, "
        f"git {html.escape(str(git.get('commit')))}" + (" (dirty)" if git.get("dirty") else ""),
        f"sweep file {html.escape(manifest.get('sweep_file', ''))}",
    ]
    body = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>powderkeg sweep {html.escape(manifest['name'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>powderkeg sweep: {html.escape(manifest['name'])}</h1>",
        f"<p>{html.escape(manifest.get('description', '').strip())}</p>",
        "<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>",
    ]
    for title, content in sections:
        body += [f"<h2>{html.escape(title)}</h2>", content]
    body.append("</body></html>")
    return "\n".join(body) + "\n"


def figure_html(name: str, caption: str) -> str:
    """The figure ``name`` (a file beside the page) with its caption."""
    return (
        f"<figure><img src='{html.escape(name)}' alt='{html.escape(caption)}'>"
        f"<figcaption class='note'>{html.escape(caption)}</figcaption></figure>"
    )


__all__ = ["STYLE", "ablation_html", "figure_html", "render_html", "table_html"]
