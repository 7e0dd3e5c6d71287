"""The network view: circular deals among the AI firms and the financial exposures around them.

Nodes are the 15 tech firms one by one and the other institutions grouped by family and kind
(US banks, EU banks, each kind of fund, each stablecoin issuer, all households), so the picture
stays readable with 1,000 retail cohorts. For the world shown (world 0 by default):

- **Circular deals** (payer → supplier): the weekly purchase commitments of
  ``abm.deals.CircularDeals.weekly`` (USD bn per week) between firms that have not failed.
- **Securities** (holder → issuer): market value of the firms' listed equity and bonds that each
  group holds, ``Σ holdings × price`` over the assets issued by that firm (USD bn).
- **Claims in the ledger pools** (holder → issuer): a holder's claim on a pool is on the pool as
  a whole, pro rata to the issuers' face values (:mod:`abm.ledger`), so the exposure of group G
  to group H in pool p is ``Σ_{h∈G} claims_h × Σ_{i∈H} face_i / Σ face`` (USD bn): deposits,
  bank loans, private credit, interbank and wholesale funding, fund shares, pension and
  insurance claims, stablecoin tokens.

Node colour is distress (:meth:`app.live.LiveRun.distress`, averaged over a group, weighted by
starting equity; a failed agent counts 1), read on the colour scale beside the picture; node
size the group's total assets, and edge colour what flows along the edge; widths grow with the
log of the amount, relative to the largest edge of the same kind (weekly deal payments are far
smaller than stocks of claims). Only the largest edges are drawn (:data:`MAX_EDGES`).

Under the picture, the institutions of the world shown ranked by DebtRank on the combined
network of their debts (:mod:`experiments.systemic`: the share of all institutions' equity the
others lose when one alone is fully distressed; Battiston et al. 2012, linear DebtRank of
Bardoscia et al. 2015), the top :data:`TOP_DEBTRANK`. It is computed when the figure is drawn, so
only while the network view is on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from app.live import LiveRun
from experiments.systemic import COMBINED, debtrank_of, exposure_layers, institution_equity
from kernels.backend import to_numpy

#: Edge kinds: what flows along an edge, its legend text and colour.
EDGE_KINDS: dict[str, tuple[str, str]] = {
    "deal": ("circular deals (payments per week)", "#d62728"),
    "equity": ("equity held", "#1f77b4"),
    "bonds": ("bonds held", "#17becf"),
    "loans": ("loans and credit lines", "#ff7f0e"),
    "funding": ("interbank and wholesale funding", "#8c564b"),
    "deposits": ("deposits", "#2ca02c"),
    "savings": ("fund shares, pension and insurance claims", "#9467bd"),
    "tokens": ("stablecoin tokens", "#e377c2"),
}
#: Ledger pool -> edge kind.
POOL_KINDS = {
    "deposits": "deposits",
    "bank_loans": "loans",
    "private_loans": "loans",
    "interbank": "funding",
    "wholesale": "funding",
    "pension_claims": "savings",
    "policies": "savings",
    "fund_shares": "savings",
    "private_fund_shares": "savings",
    "tokens": "tokens",
}
#: Most edges drawn (the largest by amount; circular deals are always drawn).
MAX_EDGES = 45
#: Institutions listed beside the network by DebtRank.
TOP_DEBTRANK = 10
#: Characters of an institution's name in that list (longer names are cut).
NAME_WIDTH = 20
#: Font size of the node labels and the legends (points; the figure is drawn 720 px wide at 80
#: dpi, which fits a 1024 px laptop's page without shrinking, so 10 pt is 11 px on screen).
LABEL_PT = 10.0
#: Colour map of distress: green calm, yellow half the equity lost, red failed.
DISTRESS_COLOURS = "RdYlGn_r"
#: Readable names of grouped kinds.
GROUP_NAMES = {
    ("bank", "us"): "US banks",
    ("bank", "eu"): "EU banks",
    ("fund", "pension"): "pension funds",
    ("fund", "insurer_life"): "life insurers",
    ("fund", "insurer_pc"): "P&C insurers",
    ("fund", "mutual_bond"): "bond funds",
    ("fund", "mutual_equity"): "equity funds",
    ("fund", "hedge"): "hedge funds",
    ("fund", "private_credit"): "private credit",
}


@dataclass(frozen=True)
class Exposures:
    """The grouped network of one world.

    Attributes:
        names: (G,) node names.
        inner: (G,) bool, nodes on the inner ring (the tech firms).
        distress: (G,) distress in [0, 1].
        size: (G,) total assets, USD bn.
        edges: (source, target, kind, amount) rows; amount in USD bn (per week for deals).
    """

    names: tuple[str, ...]
    inner: np.ndarray
    distress: np.ndarray
    size: np.ndarray
    edges: tuple[tuple[int, int, str, float], ...]


def groups(run: LiveRun) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(N,) group of every agent, the group names and (G,) whether each is a tech firm."""
    roster = run.roster
    names: list[str] = []
    index: dict[tuple[str, str], int] = {}
    group = np.empty(roster.size, dtype=np.int64)
    for i, (family, key, kind) in enumerate(
        zip(roster.family, roster.names, roster.kind, strict=True)
    ):
        ident = (family, key) if family in ("firm", "stablecoin") else (family, kind)
        if family == "retail":
            ident = ("retail", "households")
        if ident not in index:
            index[ident] = len(names)
            names.append(
                key if family in ("firm", "stablecoin") else GROUP_NAMES.get(ident, "households")
            )
        group[i] = index[ident]
    inner = np.array([False] * len(names))
    for i in roster.indices("firm"):
        inner[group[i]] = True
    return group, names, inner


def exposures(run: LiveRun, world: int = 0, max_edges: int = MAX_EDGES) -> Exposures:
    """The grouped network of ``world`` at the current week (see the module docstring).

    Args:
        run: the model.
        world: the world shown.
        max_edges: the most edges kept, largest first (circular deals always first).
    """
    group, names, inner = groups(run)
    g = len(names)
    snap = run.snapshot
    sheets = run.sheets
    weight = np.maximum(run.equity0[world], 0.0) + 1e-9
    distress = np.bincount(group, run.distress()[world] * weight, g) / np.bincount(group, weight, g)
    size = np.bincount(group, np.maximum(snap["total_assets"][world], 0.0), g)
    amounts: dict[tuple[int, int, str], float] = {}

    def add(src: int, dst: int, kind: str, amount: float) -> None:
        if src != dst and amount > 1e-6:
            amounts[(src, dst, kind)] = amounts.get((src, dst, kind), 0.0) + amount

    firms = run.roster.indices("firm")
    alive = ~snap["defaulted"][world]
    weekly = np.asarray(run.deals.weekly, dtype=float)
    for a, payer in enumerate(firms):
        for b, supplier in enumerate(firms):
            if weekly[a, b] > 0 and alive[payer] and alive[supplier]:
                add(group[payer], group[supplier], "deal", weekly[a, b])

    table = sheets.assets
    held = to_numpy(sheets.holdings[world]) * snap["prices"][world][None, :]  # (N, M) USD bn
    by_group = np.zeros((g, held.shape[1]))
    np.add.at(by_group, group, held)
    roster_index = {name: i for i, name in enumerate(run.roster.names)}
    for m, issuer in enumerate(table.issuer):
        if issuer is None or issuer not in roster_index:
            continue
        kind = "equity" if table.asset_class[m] == "equity" else "bonds"
        for src in np.nonzero(by_group[:, m])[0]:
            add(int(src), int(group[roster_index[issuer]]), kind, float(by_group[src, m]))

    for pool_name in sheets.ledger.pools:
        kind = POOL_KINDS.get(pool_name)
        if kind is None:
            continue
        edges = sheets.ledger.edges(pool_name)  # named lenders, or pro-rata shares of the pool
        between = np.zeros((g, g))
        np.add.at(between, (group[to_numpy(edges.holder)], group[to_numpy(edges.issuer)]),
                  to_numpy(edges.amount[world]))  # fmt: skip
        for src, dst in zip(*np.nonzero(between), strict=True):
            add(int(src), int(dst), kind, float(between[src, dst]))

    ranked = sorted(amounts.items(), key=lambda kv: (kv[0][2] != "deal", -kv[1]))
    edges = tuple((int(s), int(d), k, v) for (s, d, k), v in ranked[:max_edges])
    return Exposures(tuple(names), inner, distress, size, edges)


def systemic_ranking(
    run: LiveRun, world: int = 0, top: int = TOP_DEBTRANK
) -> list[tuple[str, float]]:
    """The ``top`` institutions of ``world`` by DebtRank on the combined network, largest first.

    Each as (name, DebtRank): the share of all institutions' equity the others lose when it
    alone is fully distressed (:func:`experiments.systemic.debtrank_of`). Institutions that
    nobody is exposed to (DebtRank 0), or a world whose propagation did not converge, are left
    out.
    """
    exposures_now = exposure_layers(run.sheets, world)[COMBINED]
    ranks = debtrank_of(exposures_now, institution_equity(run.sheets, world))[0]
    order = np.argsort(-np.nan_to_num(ranks, nan=0.0), kind="stable")[:top]
    return [(run.roster.names[j], float(ranks[j])) for j in order if ranks[j] > 0.0]


def positions(net: Exposures) -> np.ndarray:
    """(G, 2) node positions: tech firms on an inner ring, the rest on an outer ring."""
    pos = np.zeros((len(net.names), 2))
    for ring, radius in ((net.inner, 0.55), (~net.inner, 1.0)):
        idx = np.nonzero(ring)[0]
        angle = 2 * np.pi * np.arange(idx.size) / max(idx.size, 1) + (0.0 if radius < 1 else 0.2)
        pos[idx] = radius * np.column_stack([np.cos(angle), np.sin(angle)])
    return pos


def figure(run: LiveRun, world: int = 0) -> Figure:
    """The network view of ``world`` as a matplotlib figure (see the module docstring)."""
    net = exposures(run, world)
    pos = positions(net)
    fig = Figure(figsize=(9.0, 8.6), dpi=80)
    ax = fig.add_axes((0.0, 0.31, 1.0, 0.64))
    ax.set_axis_off()
    top: dict[str, float] = {}
    for *_, kind, amount in net.edges:
        top[kind] = max(top.get(kind, 0.0), amount)
    for src, dst, kind, amount in net.edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        width = 0.5 + 2.5 * np.log1p(amount) / np.log1p(top[kind])
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": EDGE_KINDS[kind][1],
                "lw": width,
                "alpha": 0.65,
                "shrinkA": 6,
                "shrinkB": 6,
                "connectionstyle": "arc3,rad=0.12",
            },
        )
    cmap = colormaps[DISTRESS_COLOURS]
    area = 40 + 900 * np.sqrt(net.size / max(net.size.max(), 1e-9))
    ax.scatter(pos[:, 0], pos[:, 1], s=area, c=cmap(net.distress), edgecolors="k", lw=0.5, zorder=3)
    for (x, y), name in zip(pos, net.names, strict=True):
        ax.text(
            x,
            y - 0.075,
            name,
            ha="center",
            va="top",
            fontsize=LABEL_PT,
            zorder=4,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
        )
    handles = [Line2D([0], [0], color=c, lw=2, label=t) for k, (t, c) in EDGE_KINDS.items()]
    fig.legend(
        handles=handles,
        fontsize=LABEL_PT,
        loc="lower left",
        bbox_to_anchor=(0.0, 0.1),
        frameon=False,
        ncol=1,
    )
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.3, 1.15)
    _distress_scale(fig, cmap)
    _ranking_panel(fig, systemic_ranking(run, world))
    fig.suptitle(
        f"Week {int(run.steps)}, world {world}: who is exposed to whom\n"
        "node colour = distress, size = total assets; arrows: holder → issuer, payer → supplier",
        fontsize=LABEL_PT + 1,
    )
    return fig


def _distress_scale(fig: Figure, cmap) -> None:
    """The colour scale of distress, under the legend: 0% (calm) to 100% (failed)."""
    bar = fig.add_axes((0.03, 0.045, 0.42, 0.02))
    scale = fig.colorbar(
        ScalarMappable(Normalize(0.0, 100.0), cmap), cax=bar, orientation="horizontal"
    )
    scale.set_ticks([0, 25, 50, 75, 100])
    scale.ax.tick_params(labelsize=LABEL_PT - 1)
    scale.ax.set_title(
        "node colour, distress: % of starting equity lost (100 = failed)", fontsize=LABEL_PT - 1
    )


def _ranking_panel(fig: Figure, ranking: list[tuple[str, float]]) -> None:
    """The DebtRank list on the right of the figure, one institution a line."""
    panel = fig.add_axes((0.5, 0.01, 0.5, 0.3))
    panel.set_axis_off()
    width = NAME_WIDTH
    lines = [
        f"{place:>2} {name if len(name) <= width else name[: width - 1] + '~':<{width}}"
        f" {100.0 * value:5.2f}%"
        for place, (name, value) in enumerate(ranking, start=1)
    ]
    title = (
        "Systemic importance (DebtRank)\n"
        f"combined network, top {TOP_DEBTRANK}:\n"
        "% of all institutions' equity\nlost by the others if it fails"
    )
    panel.text(0.0, 0.99, title, va="top", fontsize=LABEL_PT - 0.5, weight="bold")
    text = "\n".join(lines) if lines else "no exposures among institutions"
    panel.text(0.0, 0.74, text, va="top", fontsize=LABEL_PT - 0.5, family="monospace")


__all__ = [
    "EDGE_KINDS",
    "Exposures",
    "exposures",
    "figure",
    "groups",
    "positions",
    "systemic_ranking",
]
