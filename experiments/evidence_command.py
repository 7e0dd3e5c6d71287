"""``powderkeg evidence``: the scenario table (and the channel ablation table) of the docs.

Checks every flag before anything runs, runs each preset (and its ``[compare]`` counterfactuals)
and, with ``--ablation``, the channel ablation of one preset (``--ablation-preset``, default
``ai_revenue_disappointment``) through :mod:`experiments.evidence`, writes the Markdown file and
its data (:func:`experiments.evidence_docs.write_evidence`) and prints the tables.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from experiments.build import ablation_configs
from experiments.evidence import (
    comparison,
    counterfactual_name,
    earnings_at_risk,
    run_ablation,
    simulate,
)
from experiments.evidence_docs import (
    ablation_table,
    comparison_lines,
    provenance,
    scenario_table,
    write_evidence,
)
from experiments.scenarios import load_preset, preset_names
from experiments.usage import (
    UsageError,
    add_backend_argument,
    add_ensemble_arguments,
    add_presets_argument,
    check_backend,
    check_world_seeds,
    path_argument,
    writable_directory,
)

DEFAULT_OUT = Path("docs/scenarios.md")
DEFAULT_ABLATION_PRESET = "ai_revenue_disappointment"
DEFAULTS = {"worlds": 100, "steps": 260, "seed": 0}


def parse_presets(text: str | None, flag: str = "--presets") -> list[str]:
    """``a,b,...`` to preset names (all presets when None).

    Raises:
        UsageError: an empty list, an unknown or repeated name.
    """
    known = preset_names()
    if text is None:
        return list(known)
    names = [n.strip() for n in text.split(",")]
    if not any(names) or "" in names:
        raise UsageError(
            f"argument {flag}: give comma-separated preset names from {', '.join(known)}; "
            f"got {text!r}"
        )
    for name in names:
        if name not in known:
            raise UsageError(
                f"argument {flag}: unknown preset {name!r}; choose from {', '.join(known)}"
            )
    if len(set(names)) != len(names):
        raise UsageError(f"argument {flag}: a preset is named twice in {text!r}")
    return names


def check_out_file(out: Path) -> None:
    """Check, before the run, that ``out`` and the ``.csv`` and ``.json`` beside it can be files.

    Raises:
        UsageError: one of them is a folder (or another non-file), or its parent is a file.
    """
    for path in (out, out.with_suffix(".csv"), out.with_suffix(".json")):
        if path.exists() and not path.is_file():
            raise UsageError(
                f"argument --out: {path} exists and is not a file; give a Markdown file path "
                "whose .md, .csv and .json can be written"
            )
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(
                    f"argument --out: {parent} is not a directory; give a Markdown file path "
                    "in a writable directory"
                )
            break


def add_arguments(parser: Any) -> None:
    """The flags of ``powderkeg evidence``."""
    add_ensemble_arguments(
        parser,
        DEFAULTS,
        worlds="worlds per scenario",
        steps="weeks per world (five years)",
        seed="world w draws from seed S + w, the same in every scenario",
    )
    add_presets_argument(parser)
    parser.add_argument(
        "--out",
        type=path_argument,
        default=DEFAULT_OUT,
        metavar="FILE.md",
        help="the Markdown file; .csv and .json of the same stem go beside it "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also run the channel ablation (none, each channel alone, all) for one preset",
    )
    parser.add_argument(
        "--ablation-preset",
        default=DEFAULT_ABLATION_PRESET,
        metavar="NAME",
        help="the preset of the ablation (default: %(default)s)",
    )
    add_backend_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def command(args: Any) -> int:
    """``powderkeg evidence``: check every input, run, write the files, print the table."""
    from tqdm import tqdm

    presets = parse_presets(args.presets)
    if args.ablation:
        if len(parse_presets(args.ablation_preset, "--ablation-preset")) != 1:
            raise UsageError("argument --ablation-preset: give one preset name")
    check_world_seeds(args.seed, args.worlds)
    out = args.out.expanduser()
    if out.suffix != ".md":
        raise UsageError(f"argument --out: give a Markdown file ending in .md; got {str(out)!r}")
    backend = check_backend(args.backend)
    check_out_file(out)
    from experiments.run import check_run_memory, resolve_config

    names = [*presets, *([args.ablation_preset] if args.ablation else [])]
    cohorts = max(resolve_config(name).n_cohorts for name in names)
    check_run_memory(args.worlds, cohorts, args.steps, backend)
    writable_directory(out.parent if str(out.parent) else Path("."), "--out")

    configs = ablation_configs() if args.ablation else ()
    specs = {p: load_preset(p).compare for p in presets}
    runs = len(presets) + sum(len(found) for found in specs.values())
    total = args.steps * (runs + len(configs))
    bar = tqdm(
        total=total,
        desc=f"evidence ({args.worlds} world{'s' * (args.worlds > 1)})",
        unit="week",
        file=sys.stderr,
        disable=args.no_progress,
        mininterval=0.5,
    )
    results: dict[str, dict[str, np.ndarray]] = {}
    ablation = None
    settings = {"worlds": args.worlds, "steps": args.steps, "seed": args.seed, "backend": backend}
    comparisons: list[dict[str, Any]] = []
    with bar:
        for preset in presets:
            bar.set_postfix_str(preset)
            results[preset] = simulate(preset, **settings, tick=lambda: bar.update(1))
            for spec in specs[preset]:
                name = counterfactual_name(preset, spec)
                bar.set_postfix_str(name)
                results[name] = simulate(
                    preset, **settings, policy_overrides=spec["policy"], tick=lambda: bar.update(1)
                )
                comparisons.append(comparison(preset, spec, results[preset], results[name]))
        if configs:
            bar.set_postfix_str(f"ablation {args.ablation_preset}")
            ablation = run_ablation(
                args.ablation_preset, configs, **settings, tick=lambda: bar.update(1)
            )
    rate_risk = earnings_at_risk(args.seed, backend) if "baseline" in results else None
    meta = provenance(args.argv, **settings)
    written = write_evidence(out, meta, results, ablation, comparisons, rate_risk)
    print(scenario_table(results))
    for line in comparison_lines(comparisons):
        print(line)
    if ablation is not None:
        print()
        print(ablation_table(ablation.summary()))
    print(f"\nwrote {', '.join(str(p) for p in written)}")
    return 0


__all__ = ["add_arguments", "check_out_file", "command", "parse_presets"]
