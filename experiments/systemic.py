"""``powderkeg systemic``: which institutions matter most for contagion, by DebtRank (issue 14).

The institutions are every agent before the retail block (tech firms, banks, funds, stablecoin
issuers). On each layer of the network of debts among them (each debt pool of
:data:`abm.claims.DEBT_POOLS`, read as named edges through :meth:`abm.ledger.Ledger.edges`; the
firms' bonds as one more layer) and on the combined network (the sum of the layers), the exposure
``A[i, j]`` (USD bn) is what institution i loses if institution j defaults with nothing
recovered: the face of i's claims on j in a ledger pool, or the market value of i's part of j's
bonds (its share of the bond asset's units times j's face times the price), which is what i's
equity carries. Retail cohorts and the outside
holders are left out: they are not institutions, and their losses do not propagate.

- Impact (Battiston, Puliga, Kaushik, Tasca & Caldarelli 2012, "DebtRank: too central to fail?",
  Scientific Reports 2: 541): ``W[i, j] = min(A[i, j] / E_i, 1)`` for an institution with
  positive equity ``E_i``; an institution without (a mutual fund or hedge fund whose investors'
  claims are its liabilities, or one that has failed) has no equity buffer of its own to lose,
  so its row is zero: it passes no distress on, but others can still lose on it.
- Propagation: linear DebtRank (Bardoscia, Battiston, Caccioli & Caldarelli 2015, "DebtRank: a
  microscopic foundation for shock propagation", PLoS ONE 10(6): e0130406), a creditor losing in
  proportion to the rise of its debtor's distress, ``h(t+1) = min(1, h(t) + W (h(t) - h(t-1)))``
  (:func:`kernels.debtrank.debtrank`).
- Economic value ``v_i = E_i / Σ_k E_k``, each institution's share of the positive equity of all
  institutions, so that ``Σ_i h_i v_i`` is the relative equity loss of Bardoscia et al. 2015.
- DebtRank of j (Battiston et al. 2012): the relative economic value the others lose when j alone
  is fully distressed (``h_j = 1``), ``R_j = Σ_i h_i v_i - h_j v_j``, as a share of all the
  institutions' equity.

All N shocks of a world run at once as one batch of the kernel (exposures (E, 1, N, N) against
shocks (N, N)). Per preset, each institution's rank is by its median R over worlds, with the 5–95%
range beside it; a world whose propagation did not converge (non-finite numbers) is left out.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abm.claims import DEBT_POOLS
from experiments.files import markdown_cell
from experiments.usage import (
    UsageError,
    add_ensemble_arguments,
    add_presets_argument,
    check_world_seeds,
    path_argument,
)
from kernels.backend import to_numpy

DEFAULT_OUT = Path("docs/systemic.md")
DEFAULTS = {"worlds": 100, "steps": 0, "seed": 0, "cohorts": 1000}
#: The layer of the firms' bonds (held as units of each firm's bond asset) and the sum of all.
BONDS, COMBINED = "bonds", "combined"
#: Institutions listed per preset and week: on the combined network, and on each layer.
TOP_COMBINED, TOP_LAYER = 15, 5
#: Worlds propagated together: bounds the (chunk, N, N) distress arrays of the kernel.
WORLD_CHUNK = 32


def layer_names() -> tuple[str, ...]:
    """The layers in the order they are reported: the debt pools, bonds, then combined."""
    return (*DEBT_POOLS, BONDS, COMBINED)


# -- exposures and DebtRank ----------------------------------------------------------------------


def exposure_layers(sheets: Any, world: int | None = None) -> dict[str, np.ndarray]:
    """(E, K, K) exposures ``A[i, j]`` among the K institutions, USD bn, by layer (on the host).

    ``A[:, i, j]`` is what institution i is owed by institution j: the debt pools' edges (holder
    i, issuer j) at face, and j's bonds that i holds at market value (its share of the bond
    asset's units × j's face × price, a bond asset pooling several issuers' bonds). Every
    layer of :func:`layer_names` is present (all zeros where no institution owes another).

    Args:
        sheets: the model's balance sheets (:class:`abm.balance_sheets.BalanceSheets`).
        world: one world only (E = 1), or all worlds when None.
    """
    k = sheets.roster.blocks["retail"][0]
    worlds = slice(None) if world is None else slice(world, world + 1)
    layers: dict[str, np.ndarray] = {}
    for name in DEBT_POOLS:
        edges = sheets.ledger.edges(name)
        issuer, holder = to_numpy(edges.issuer), to_numpy(edges.holder)
        amount = to_numpy(edges.amount)[worlds]
        inside = (issuer < k) & (holder < k) & (issuer != holder)
        flat = np.zeros((amount.shape[0], k * k))
        np.add.at(flat, (slice(None), holder[inside] * k + issuer[inside]), amount[:, inside])
        layers[name] = flat.reshape(-1, k, k)
    rows = np.flatnonzero(sheets.bond_asset[:k] >= 0)
    assets = sheets.bond_asset[rows]
    units = to_numpy(sheets.holdings)[worlds][:, :k][:, :, assets]  # (E, K, B) units held
    supply = to_numpy(sheets.supply)[worlds][:, assets]  # (E, B) units outstanding
    price = to_numpy(sheets.prices)[worlds][:, assets]  # (E, B) USD bn per unit
    face = to_numpy(sheets.bonds)[worlds][:, rows]  # (E, B) each firm's bonds, USD bn
    # a bond asset may pool several issuers' bonds (a high-yield index): a holder's part of
    # firm j's bonds is its share of the asset's units (as abm.failures values bond claims)
    part = face / np.where(supply > 0.0, supply, 1.0)
    bonds = np.zeros_like(layers[DEBT_POOLS[0]])
    bonds[:, :, rows] = units * (part * price)[:, None, :]
    bonds[:, rows, rows] = 0.0  # a firm's own bonds bought back are no exposure
    layers[BONDS] = bonds
    layers[COMBINED] = sum(layers[name] for name in (*DEBT_POOLS, BONDS))
    return layers


def institution_equity(sheets: Any, world: int | None = None) -> np.ndarray:
    """(E, K) equity of the institutions (USD bn, on the host), all worlds or one."""
    k = sheets.roster.blocks["retail"][0]
    worlds = slice(None) if world is None else slice(world, world + 1)
    return to_numpy(sheets.equity())[worlds][:, :k]


def impact_matrix(exposures: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """(E, K, K) impact ``W[i, j] = min(A[i, j] / E_i, 1)``; zero rows where ``E_i <= 0``.

    Battiston et al. 2012: the share of i's equity lost when j defaults, at most all of it.
    """
    buffer = equity > 0.0
    safe = np.where(buffer, equity, 1.0)
    return np.where(buffer[..., None], np.minimum(exposures / safe[..., None], 1.0), 0.0)


def debtrank_of(exposures: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """(E, K) DebtRank ``R_j`` of each institution j alone fully distressed (module docstring).

    Args:
        exposures: (E, K, K) ``A[i, j]``, what i loses if j defaults (USD bn, >= 0).
        equity: (E, K) the institutions' equity (USD bn).

    Returns:
        The relative equity of the other institutions lost, in [0, 1]; NaN in a world whose
        propagation did not converge.
    """
    worlds, k = equity.shape
    # worlds with the same exposures and equity (every world at week 0) are propagated once
    books = np.concatenate([exposures.reshape(worlds, k * k), equity], axis=1)
    distinct, world_of = np.unique(books, axis=0, return_inverse=True)
    ranks = _debtrank_of(distinct[:, : k * k].reshape(-1, k, k), distinct[:, k * k :])
    return ranks[world_of.reshape(worlds)]


def _debtrank_of(exposures: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """:func:`debtrank_of` of every world given, :data:`WORLD_CHUNK` worlds at a time."""
    from kernels.debtrank import debtrank

    worlds, k = equity.shape
    value = np.maximum(equity, 0.0)
    total = value.sum(axis=-1, keepdims=True)
    value = value / np.where(total > 0.0, total, 1.0)  # v_i, share of the positive equity
    shocks = np.eye(k)[None]  # (1, K shocked, K): row j puts h_j = 1
    ranks = np.empty((worlds, k))
    for lo in range(0, worlds, WORLD_CHUNK):
        part = slice(lo, lo + WORLD_CHUNK)
        impact = impact_matrix(exposures[part], equity[part])
        # equity 1 everywhere: the impact is already relative, and no institution is failed
        result = debtrank(impact[:, None], np.ones(k), shocks, linear=True)
        distress = result.distress  # (chunk, K shocked, K)
        own = np.diagonal(distress, axis1=-2, axis2=-1) * value[part]
        lost = distress @ value[part][:, :, None]
        ranks[part] = np.where(result.converged, lost[..., 0] - own, np.nan)
    return ranks


def systemic_importance(sheets: Any, world: int | None = None) -> dict[str, np.ndarray]:
    """(E, K) DebtRank of every institution on each layer of :func:`layer_names`.

    A layer with no exposure among institutions gives zeros without running the kernel.
    """
    equity = institution_equity(sheets, world)
    ranks: dict[str, np.ndarray] = {}
    for name, exposures in exposure_layers(sheets, world).items():
        empty = not np.any(exposures > 0.0)
        ranks[name] = np.zeros_like(equity) if empty else debtrank_of(exposures, equity)
    return ranks


@dataclass(frozen=True)
class Ranking:
    """Institutions ordered by median DebtRank over worlds (largest first).

    Attributes:
        order: (K,) institution indices, most important first.
        median, p5, p95: (K,) DebtRank over worlds, by institution index (NaN if no world
            converged).
        worlds: worlds counted (those whose propagation converged).
    """

    order: np.ndarray
    median: np.ndarray
    p5: np.ndarray
    p95: np.ndarray
    worlds: int

    @classmethod
    def of(cls, ranks: np.ndarray) -> Ranking:
        """Rank (E, K) DebtRanks; ties keep the roster's order."""
        counted = ranks[np.all(np.isfinite(ranks), axis=-1)]
        if counted.shape[0] == 0:
            nan = np.full(ranks.shape[-1], np.nan)
            return cls(np.arange(ranks.shape[-1]), nan, nan, nan, 0)
        median, p5, p95 = (np.percentile(counted, q, axis=0) for q in (50, 5, 95))
        return cls(np.argsort(-median, kind="stable"), median, p5, p95, counted.shape[0])


# -- running the presets -------------------------------------------------------------------------


def measure(
    preset: str,
    *,
    worlds: int,
    weeks: Sequence[int],
    seed: int,
    cohorts: int,
    tick: Callable[[], None] | None = None,
) -> tuple[dict[int, dict[str, np.ndarray]], dict[str, tuple[str, ...]]]:
    """Run ``preset`` on NumPy to the last of ``weeks``; each layer's (E, K) DebtRank each week.

    Returns the rankings by week and layer, and who the institutions are
    (:func:`roster_institutions`). ``tick`` is called after every week (the progress bar).
    """
    from experiments.build import build_model
    from experiments.scenarios import load_preset

    model = build_model(
        load_preset(preset), n_worlds=worlds, seed=seed, backend="numpy", n_cohorts=cohorts
    )
    wanted = set(weeks)
    found = {0: _counted(model)} if 0 in wanted else {}
    for week in range(1, max(wanted) + 1):
        model.step()
        if week in wanted:
            found[week] = _counted(model)
        if tick is not None:
            tick()
    return found, roster_institutions(model.roster)


def _counted(model: Any) -> dict[str, np.ndarray]:
    """:func:`systemic_importance` of every world, NaN in the worlds the model has stopped.

    A stopped world's numbers became non-finite (:attr:`abm.state.WorldState.stopped`): they are
    no results, so the rankings leave it out.
    """
    stopped = np.asarray(model.state.stopped)[:, None]
    return {
        layer: np.where(stopped, np.nan, ranks)
        for layer, ranks in systemic_importance(model.sheets).items()
    }


def roster_institutions(roster: Any) -> dict[str, tuple[str, ...]]:
    """The institutions' ``names``, ``labels`` and ``family`` in roster order."""
    k = roster.blocks["retail"][0]
    return {"names": roster.names[:k], "labels": roster.labels[:k], "family": roster.family[:k]}


# -- writing ------------------------------------------------------------------------------------


def _percent(x: float) -> str:
    """A share as a percentage with three significant figures ('n/a' when not finite)."""
    if not np.isfinite(x):
        return "n/a"
    return f"{100.0 * x:.3g}%"


def combined_table(ranking: Ranking, who: Mapping[str, Sequence[str]], top: int) -> list[str]:
    """The top ``top`` institutions on the combined network as Markdown table lines."""
    lines = [
        "| rank | institution | family | DebtRank, median [5%, 95%] |",
        "|---|---|---|---|",
    ]
    for place, j in enumerate(ranking.order[:top], start=1):
        name = f"`{who['names'][j]}` ({who['labels'][j]})"
        value = (
            f"{_percent(ranking.median[j])} [{_percent(ranking.p5[j])}, {_percent(ranking.p95[j])}]"
        )
        lines.append(f"| {place} | {markdown_cell(name)} | {who['family'][j]} | {value} |")
    return lines


def layer_table(
    rankings: Mapping[str, Ranking], who: Mapping[str, Sequence[str]], top: int
) -> list[str]:
    """One row per layer: its ``top`` institutions with their median DebtRank."""
    places = " | ".join(f"#{p}" for p in range(1, top + 1))
    lines = [f"| layer | {places} |", "|---" * (top + 1) + "|"]
    for layer, ranking in rankings.items():
        if layer == COMBINED:
            continue
        if not np.any(ranking.median > 0.0):
            lines.append(f"| {layer} | no exposure among institutions" + " |" * top)
            continue
        cells = [
            f"`{who['names'][j]}` {_percent(ranking.median[j])}"
            for j in ranking.order[:top]
            if ranking.median[j] > 0.0
        ]
        cells += [""] * (top - len(cells))
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    return lines


def render(
    meta: Mapping[str, Any],
    results: Mapping[str, Mapping[int, Mapping[str, np.ndarray]]],
    who: Mapping[str, Sequence[str]],
) -> str:
    """The whole Markdown file: provenance, the method, then each preset's rankings by week."""
    git = meta["git"]
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    weeks = ", ".join(str(w) for w in meta["weeks"])
    lines = [
        "# Systemic importance: the institutions ranked by DebtRank",
        "",
        "Generated by `powderkeg systemic`; do not edit by hand.",
        "",
        f"- command: `{meta['command']}`",
        f"- created (UTC): {meta['created_utc']}",
        f"- git commit: {commit}",
        f"- NumPy, {meta['worlds']} worlds, {meta['steps']} weeks run, ranked at week(s) "
        f"{weeks}, {meta['cohorts']} retail cohorts, seed {meta['seed']} (world w uses seed + w)",
        "",
        f"The {len(who['names'])} institutions are every agent but the retail cohorts (tech "
        "firms, banks, funds, stablecoin issuers). On each layer of debts among them (each debt "
        "pool of `abm/claims.py` from the ledger's edges, and the firms' bonds at market "
        "value) and on the combined network (their sum), the exposure A[i, j] "
        "is what institution i loses if j defaults with nothing recovered; the impact is "
        "W[i, j] = min(A[i, j] / E_i, 1) for an institution with positive equity E_i "
        "(Battiston et al. 2012, Scientific Reports 2: 541), zero for one without (a fund whose "
        "investors' claims are its liabilities, or a failed institution): it loses nothing of "
        "its own, but others can lose on it. Distress spreads by linear DebtRank (Bardoscia et "
        "al. 2015, PLoS ONE 10(6): e0130406). The **DebtRank of j** is the share of all the "
        "institutions' equity that the others lose when j alone is fully distressed, "
        "R_j = Σ_i h_i v_i − h_j v_j with v_i = E_i / Σ_k E_k, each institution's share of the "
        "positive equity (the relative equity loss of Bardoscia et al. 2015). DebtRank assumes "
        "nothing is recovered from the institution that fails: neither collateral (a prime "
        "broker's hold on a hedge fund's securities) nor its remaining assets are netted, so R "
        "measures the reach of a failure, an upper bound on its cost (the model's own clearing, "
        "`abm/failures.py`, pays creditors out of what is left). Institutions are "
        "ranked by their median R over worlds, with the 5–95% range over worlds; at week 0 "
        "every world starts from the same balance sheets, so the range there is a point. "
        "Computed by `experiments/systemic.py`; the app's network view shows the same ranking "
        "for the world on screen.",
        "",
        '**Named or pooled.** With named counterparties (the default; docs/design.md, "Who is '
        "exposed to whom\") a fund's failure reaches only its prime brokers and a firm's only "
        "its syndicate, and the ranking shows who is exposed to whom. Where a preset turns "
        "`named_counterparties` off, a bank loan or a deposit is a pro-rata share of its whole "
        "pool: a hedge fund's borrowing is owed to every bank in proportion to its size, so the "
        "most levered funds lead the ranking because their failure would reach every bank.",
    ]
    for preset, by_week in results.items():
        lines += ["", f"## {preset}"]
        for week, ranks in by_week.items():
            rankings = {layer: Ranking.of(r) for layer, r in ranks.items()}
            combined = rankings[COMBINED]
            lines += [
                "",
                f"### Week {week}",
                "",
                f"Combined network, top {TOP_COMBINED} ({combined.worlds} of {meta['worlds']} "
                "worlds counted: a world the model stopped, its numbers no longer finite, is "
                "left out):",
                "",
                *combined_table(combined, who, TOP_COMBINED),
                "",
                f"Each layer, top {TOP_LAYER} (median DebtRank):",
                "",
                *layer_table(rankings, who, TOP_LAYER),
            ]
    return "\n".join(lines) + "\n"


# -- the command --------------------------------------------------------------------------------


def add_arguments(parser: Any) -> None:
    """The flags of ``powderkeg systemic``."""
    add_ensemble_arguments(
        parser,
        DEFAULTS,
        worlds="worlds per preset",
        steps="weeks each preset runs (0: the opening balance sheets only)",
        cohorts=True,
    )
    parser.add_argument(
        "--week",
        default=None,
        metavar="W[,W...]",
        help="weeks at which to rank, each from 0 to --steps (default: 0 and --steps)",
    )
    add_presets_argument(parser)
    parser.add_argument(
        "--out",
        type=path_argument,
        default=DEFAULT_OUT,
        metavar="FILE.md",
        help="the Markdown file (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def parse_weeks(text: str | None, steps: int) -> list[int]:
    """``--week``: the weeks at which to rank, sorted (default 0 and ``steps``).

    Raises:
        UsageError: an empty or non-integer entry, or a week outside 0 to ``steps``.
    """
    if text is None:
        return sorted({0, steps})
    hint = f"give comma-separated weeks from 0 to {steps} (--steps {steps})"
    try:
        weeks = [int(part.strip()) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"argument --week: {hint}; got {text!r}") from None
    if any(not 0 <= week <= steps for week in weeks):
        raise UsageError(f"argument --week: a week is outside the run; {hint}; got {text!r}")
    return sorted(set(weeks))


def command(args: Any) -> int:
    """``powderkeg systemic``: check the input, run each preset, write the rankings."""
    from tqdm import tqdm

    from experiments.evidence_command import parse_presets
    from experiments.evidence_docs import provenance
    from experiments.files import write_atomically
    from experiments.seed_targets import check_out

    check_world_seeds(args.seed, args.worlds)
    weeks = parse_weeks(args.week, args.steps)
    presets = parse_presets(args.presets)
    out = check_out(args.out)
    last = max(weeks)
    bar = tqdm(
        total=len(presets) * (last + 1),
        desc=f"systemic ({args.worlds} world{'s' * (args.worlds > 1)})",
        unit="week",
        file=sys.stderr,
        disable=args.no_progress,
        mininterval=0.5,
    )
    results: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    with bar:
        for preset in presets:
            results[preset], who = measure(
                preset,
                worlds=args.worlds,
                weeks=weeks,
                seed=args.seed,
                cohorts=args.cohorts,
                tick=lambda: bar.update(1),
            )
            bar.update(1)  # the week-0 ranking
    meta = provenance(
        args.argv, worlds=args.worlds, steps=args.steps, seed=args.seed, backend="numpy"
    )
    meta.update(cohorts=args.cohorts, weeks=weeks)
    text = render(meta, results, who)
    write_atomically({out: lambda path: path.write_text(text, encoding="utf-8")})
    for preset, by_week in results.items():
        for week, ranks in by_week.items():
            ranking = Ranking.of(ranks[COMBINED])
            top = ", ".join(
                f"{who['names'][j]} {_percent(ranking.median[j])}" for j in ranking.order[:5]
            )
            print(f"{preset} week {week}: {top}")
    print(f"wrote {out}")
    return 0


__all__ = [
    "BONDS",
    "COMBINED",
    "Ranking",
    "add_arguments",
    "command",
    "debtrank_of",
    "exposure_layers",
    "impact_matrix",
    "institution_equity",
    "layer_names",
    "measure",
    "parse_weeks",
    "render",
    "roster_institutions",
    "systemic_importance",
]
