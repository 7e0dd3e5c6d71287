"""Solara components of the app: the guided tour, shocks and event log, charts, network, inspector.

The page's named tabs (:data:`TABS`, drawn by :func:`PageTabs`; only the open tab renders):
"Classroom" the tour, event log, markets and failures; "Banks and households" banks,
stablecoins and households; "Network" the network and the inspector; "Macro and bank capital"
the macro economy and the banks' capital and earnings; "What if" the page's run against one
change on the same worlds (:mod:`app.whatif`); "Export" the downloads and the replay file
(:mod:`app.export`).

Each component takes the page's :class:`~app.live.LiveRun` and subscribes to Mesa's
``update_counter``, so it redraws after every step, play tick and shock. Charts and figures are
rebuilt only when the week or the model changes (``solara.use_memo``), not on unrelated
re-renders. The time series are ECharts drawn by the browser (:mod:`app.charts`); the network
and the inspector are matplotlib images, on their own tab, drawn only while it is open.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

import solara
from mesa.visualization.utils import update_counter

from abm.agents import FAMILY_CLASSES
from abm.calibration import load_calibration
from abm.vocabulary import FAMILIES
from app import charts, network
from app.controls import play, use_loop_guard, use_redraw
from app.echarts import Echarts, option_text
from app.export import ExportPanel
from app.levers import available
from app.live import NOTABLE_EVENTS, SHOCK_BUTTONS, LiveRun
from app.tours import tour
from app.whatif import WhatIfPanel

#: Seconds between weeks while the tour plays.
PLAY_PAUSE_S = 0.15
#: Longest run of "Next event" (weeks).
NEXT_EVENT_MAX_WEEKS = 52
#: Longest "Play tour" run (weeks).
PLAY_MAX_WEEKS = 520
#: Events listed in the log (newest first).
LOG_ROWS = 80
#: Height of one chart panel (px): room for a title, a two-line legend and a readable plot.
CHART_HEIGHT_PX = 230

#: The server's log of model errors met by the page's buttons and loops.
log = logging.getLogger("powderkeg.app")


def guarded(action: Callable[[], None], problem: Any, what: str) -> Callable[[], None]:
    """``action`` as a button's handler that never replaces the page with a traceback.

    A model error (an exception from a step, a shock or a tour) is logged on the server with its
    traceback and shown on the page as one line in ``problem`` (a reactive string), which the
    next action that succeeds clears.
    """

    def run() -> None:
        try:
            action()
        except Exception as err:  # the page must outlive any model error; the log keeps it
            log.exception("%s failed", what)
            problem.set(f"{what} failed: {type(err).__name__}: {err}")
        else:
            problem.set("")

    return run


#: Families the event log filters on ("shock" = shocks fired from the page).
LOG_FAMILIES = ("all", *FAMILIES, "shock")


def _week(model: LiveRun) -> int:
    return int(model.steps)


@solara.component
def ClassroomTour(model: LiveRun) -> None:
    """The guided tour of the model's preset: narrative, what to watch, run controls."""
    update_counter.get()
    guide = tour(model.preset)
    week = _week(model)
    index = guide.current(week)
    step = guide.steps[index]
    playing = solara.use_reactive(False)
    pause_at_default = solara.use_reactive(True)
    status = solara.use_reactive("")
    problem = solara.use_reactive("")
    redraw = use_redraw()

    def forget() -> None:  # a new model (Reset) stops the tour and clears its messages
        playing.set(False)
        status.set("")
        problem.set("")

    solara.use_effect(forget, [id(model)])

    def first_default(start: int) -> Callable[[LiveRun], bool]:
        return lambda m: pause_at_default.value and start == 0 and m.defaults_so_far() > 0

    def next_event() -> None:
        seen, hit_default = model.notable_events(), first_default(model.defaults_so_far())
        weeks = model.run_until(
            lambda m: m.notable_events() > seen or hit_default(m), NEXT_EVENT_MAX_WEEKS
        )
        redraw()  # the week, charts and log first, then the message that says why
        frame = model.event_frame()
        newest = frame[frame["event"].isin(NOTABLE_EVENTS)]
        ran = f"Ran {weeks} week{'s' * (weeks != 1)} to week {_week(model)}"
        if model.notable_events() > seen and len(newest):
            status.set(f"{ran}: {newest.iloc[0]['message']}")
        else:
            status.set(f"{ran}: no new event of note.")

    guard = use_loop_guard()  # the loop ends with the tab (a tab switch) and the session

    def tour_loop() -> None:
        if not playing.value:
            return
        hit_default = first_default(model.defaults_so_far())
        attempt = guarded(model.step, problem, "Play tour")

        def step() -> None:
            attempt()
            if problem.value:  # the model failed this week: stop, the message says why
                playing.set(False)
            elif hit_default(model):
                playing.set(False)
                status.set(f"Paused at the first default, week {_week(model)}.")

        def keep_going() -> bool:
            return playing.value and guard()

        play(step, keep_going, PLAY_PAUSE_S, max_weeks=PLAY_MAX_WEEKS, draw=redraw, lock=model.lock)
        if guard():
            playing.set(False)

    solara.lab.use_task(tour_loop, dependencies=[playing.value, id(model)], prefer_threaded=True)

    nxt = guide.next_week(week)
    with solara.Card("Classroom"):
        with solara.Row(style={"flex-wrap": "wrap", "align-items": "center"}):
            solara.Button(
                "Next event",
                on_click=guarded(next_event, problem, "Next event"),
                disabled=playing.value,
                small=True,
            )
            solara.Button(
                "Pause tour" if playing.value else "Play tour",
                on_click=lambda: playing.set(not playing.value),
                small=True,
            )
            solara.Checkbox(label="Pause at first default", value=pause_at_default)
        solara.HTML(tag="div", unsafe_innerHTML=_tour_html(guide.title, week, index, step, nxt))
        if status.value:
            solara.Success(status.value, dense=True)
        if problem.value:
            solara.Error(problem.value, dense=True)
        solara.Text(
            f"Preset {model.preset}, seed {model.seed}, {model.n_worlds} world(s); "
            f"{lever_summary(model)}. Reset replays the same world; sidebar changes apply on "
            "Reset.",
            classes=["pk-muted"],
        )


def lever_summary(model: LiveRun) -> str:
    """The levers this run was built with that differ from their starting values, in words."""
    cal = load_calibration()
    changed = [
        f"{lv.key.replace('_', ' ')} {model.levers[lv.key]}"
        for lv in available()
        if lv.key in model.levers and model.levers[lv.key] != lv.start(cal)
    ]
    if model.shock_scale != 1.0:
        changed.append(f"shock size ×{model.shock_scale:g}")
    return "levers as in the preset" if not changed else "levers: " + ", ".join(changed)


def _tour_html(title: str, week: int, index: int, step: Any, next_week: int | None) -> str:
    """The tour step as HTML: heading, narrative, what to watch, the question, what to expect.

    The question for the class comes first; what the model shows (the step's checked claims,
    ``[[steps.expect]]``) is folded under "What you should see" so the class can answer before
    looking. The card grows with its text (nothing is cut); the "what to watch" box is a
    translucent tint with the theme's own text colour, so it reads in the dark theme too.
    """
    e = html.escape
    later = f" Next step at week {next_week}." if next_week is not None else " Last step."
    question = (
        f"<div class='pk-question'><b>Question for the class:</b> {e(step.question)}</div>"
        if step.question
        else ""
    )
    expect = (
        "<details class='pk-expect'><summary>What you should see (checked by the tests on this "
        "page's world: seed 1, one world)</summary><ul style='margin:2px 0 2px 18px;padding:0'>"
        + "".join(f"<li>{e(claim.claim)}</li>" for claim in step.expect)
        + "</ul></details>"
        if step.expect
        else ""
    )
    return (
        "<div style='font-size:14px;line-height:1.4'>"
        f"<div><b>{e(title)}</b> — week {week}, step {index + 1}: <b>{e(step.title)}</b></div>"
        f"<p style='margin:4px 0'>{e(step.text)}</p>"
        f"<div class='pk-watch'><b>What to watch:</b> {e(step.watch)}</div>"
        f"{question}{expect}"
        f"<div class='pk-muted'>Source: {e(step.source)}.{later}</div></div>"
    )


def _log_html(rows: list[tuple[int, int, str, str]], many_worlds: bool) -> str:
    lines = []
    for step, world, family, message in rows:
        where = f" · world {world}" if many_worlds and world >= 0 else ""
        lines.append(
            f"<div class='pk-event pk-{html.escape(family)}'><b>Week {step}{where}</b> "
            f"[{html.escape(family)}] {html.escape(message)}</div>"
        )
    body = "".join(lines) or "<div>No events yet: press Step, Play or a shock button.</div>"
    return f"<div style='max-height:220px;overflow-y:auto;font-size:13px'>{body}</div>"


@solara.component
def EventLog(model: LiveRun) -> None:
    """Shock buttons and the plain-language event log, newest first, filterable by family."""
    update_counter.get()
    family = solara.use_reactive("all")
    problem = solara.use_reactive("")
    redraw = use_redraw()
    frame = model.event_frame()
    if family.value != "all" and len(frame):
        frame = frame[frame["family"] == family.value]
    rows = list(
        zip(
            frame["step"].head(LOG_ROWS).astype(int),
            frame["world"].head(LOG_ROWS).astype(int),
            frame["family"].head(LOG_ROWS),
            frame["message"].head(LOG_ROWS),
            strict=True,
        )
    )

    def fire(key: str) -> Callable[[], None]:
        def go() -> None:
            model.fire(key)
            redraw()

        return guarded(go, problem, f"Shock {key!r}")

    with solara.Card("Shocks and event log"):
        with solara.Row(style={"flex-wrap": "wrap"}):
            for button in SHOCK_BUTTONS:
                solara.Button(
                    button.label,
                    on_click=fire(button.key),
                    color="error",
                    x_small=True,
                    style={"margin": "2px"},
                )
        if problem.value:
            solara.Error(problem.value, dense=True)
        with solara.Column(classes=["pk-filters"], gap="0px"):  # wraps on a narrow card
            solara.ToggleButtonsSingle(value=family, values=list(LOG_FAMILIES), dense=True)
        solara.HTML(tag="div", unsafe_innerHTML=_log_html(rows, model.n_worlds > 1))


def chart(name: str, heading: bool = False) -> Any:
    """A component drawing the two panels of figure ``name`` of :mod:`app.charts` (ECharts).

    With ``heading`` the figure's name (the section, in words) leads the line above the charts.
    """

    @solara.component
    def Chart(model: LiveRun) -> None:
        counter = update_counter.get()
        options = solara.use_memo(
            lambda: [option_text(o) for o in charts.options(model, name)], [counter, id(model)]
        )
        with solara.Column(gap="4px", style={"width": "100%"}):
            # always present (empty for one world): adding or removing a child would rebuild the
            # charts' widgets, and an ECharts widget removed while it initialises throws
            note = charts.fan_note(model)
            if heading:
                solara.HTML(
                    tag="div",
                    unsafe_innerHTML=(
                        f"<b style='font-size:14px'>{html.escape(name)}</b>"
                        f"<span class='pk-muted'> {html.escape(note)}</span>"
                    ),
                )
            else:
                solara.Text(note, classes=["pk-muted"])
            for opt in options:
                Echarts(opt, height_px=CHART_HEIGHT_PX)

    Chart.__doc__ = f"The {name} charts."
    return Chart


@solara.component
def NetworkView(model: LiveRun) -> None:
    """The circular-deal and exposure network of one world, coloured by distress."""
    counter = update_counter.get()
    world = solara.use_reactive(0)
    if world.value >= model.n_worlds:
        world.set(0)
    fig = solara.use_memo(
        lambda: network.figure(model, min(world.value, model.n_worlds - 1)),
        [counter, id(model), world.value],
    )
    with solara.Card("Network: circular deals and exposures", classes=["pk-wide"]):
        if model.n_worlds > 1:
            with solara.Column(classes=["pk-slider"], gap="0px"):
                solara.SliderInt(
                    f"World shown (0–{model.n_worlds - 1}): {world.value}",
                    value=world,
                    min=0,
                    max=model.n_worlds - 1,
                    thumb_label=False,
                )
        solara.FigureMatplotlib(fig, format="png", dependencies=[counter, id(model), world.value])


def institutions(model: LiveRun) -> dict[str, Any]:
    """Label -> agent of every institution (all families but retail cohorts), roster order."""
    return {
        a.label: a
        for a in sorted(model.agents, key=lambda a: a.row)
        if type(a) is not FAMILY_CLASSES["retail"]
    }


def balance_sheet_history(model: LiveRun, agent: Any) -> Any:
    """The DataCollector's records of ``agent`` (world ``model.world``), one row per week.

    Columns: ``week``, ``total_assets``, ``liabilities``, ``equity``, ``cash`` (USD bn),
    ``defaulted`` and the family's own reporters (revenue, CET1 ratio, peg).
    """
    frame = model.datacollector.get_agenttype_vars_dataframe(type(agent))
    rows = frame.xs(agent.unique_id, level="AgentID").reset_index()
    rows = rows.rename(columns={"Step": "week"})
    rows["week"] = rows["week"].astype(int)
    rows["liabilities"] = rows["total_assets"] - rows["equity"]
    return rows


@solara.component
def Inspector(model: LiveRun) -> None:
    """Pick an institution and see its balance sheet week by week (world 0)."""
    counter = update_counter.get()
    agents = institutions(model)
    labels = list(agents)
    pick = solara.use_reactive(labels[0])
    if pick.value not in agents:
        pick.set(labels[0])
    agent = agents.get(pick.value, agents[labels[0]])

    def draw() -> Any:
        from matplotlib.figure import Figure

        rows = balance_sheet_history(model, agent)
        fig = Figure(figsize=(7.2, 2.8), dpi=80)
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.16, top=0.88)
        ax = fig.subplots()
        for column, colour in (
            ("total_assets", "C0"),
            ("liabilities", "C3"),
            ("equity", "C2"),
            ("cash", "C7"),
        ):
            ax.plot(
                rows["week"], rows[column], color=colour, lw=1.4, label=column.replace("_", " ")
            )
        failed = rows[rows["defaulted"]]
        if len(failed):
            ax.axvline(int(failed["week"].iloc[0]), color="k", ls="--", lw=1, label="failed")
        ax.set_title(f"{agent.label} ({agent.kind}), world {model.world}", fontsize=9)
        ax.set_xlabel("week", fontsize=8)
        ax.set_ylabel("USD bn", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False, ncol=5, loc="upper left")
        ax.grid(alpha=0.3, lw=0.5)
        return fig

    fig = solara.use_memo(draw, [counter, id(model), pick.value])
    with solara.Card("Inspect an institution", classes=["pk-wide"]):
        solara.v.Autocomplete(
            label=f"Institution ({len(labels)}; type to search)",
            items=labels,
            v_model=pick.value,
            on_v_model=lambda label: pick.set(label) if label in agents else None,
            dense=True,
            auto_select_first=True,
        )
        details = [
            f"total assets {agent.total_assets:,.1f}",
            f"liabilities {agent.liabilities:,.1f}",
            f"equity {agent.equity:,.1f}",
            f"cash {agent.cash:,.1f} (USD bn)",
        ]
        extra = (
            ("cet1_ratio", "CET1 ratio {:.1%}"),
            ("peg", "peg ${:.3f}"),
            ("revenue", "revenue {:,.2f} USD bn/week"),
        )
        for name, text in extra:
            if hasattr(agent, name):
                details.append(text.format(getattr(agent, name)))
        status = "FAILED" if agent.defaulted else "operating"
        solara.Text(f"Week {_week(model)}: {status}; " + ", ".join(details))
        solara.FigureMatplotlib(fig, format="png", dependencies=[counter, id(model), pick.value])


@solara.component
def WhatIf(model: LiveRun) -> None:
    """The "What if" tab: the page's preset, seed, worlds and levers against one change."""
    WhatIfPanel(
        model.preset,
        int(model.seed),
        int(model.n_worlds),
        {**model.levers, "shock_scale": model.shock_scale},
    )


#: The page's tabs: name, and the components on it in reading order (each takes the model).
TABS: tuple[tuple[str, tuple[Any, ...]], ...] = (
    (
        "Classroom",
        (ClassroomTour, EventLog, chart("Markets"), chart("Failures and fire sales")),
    ),
    ("Banks and households", (chart("Banks and stablecoins"), chart("Households"))),
    ("Network", (NetworkView, Inspector)),
    (
        "Macro and bank capital",
        tuple(chart(name, heading=True) for name in charts.MACRO_AND_BANKS),
    ),
    ("What if", (WhatIf,)),
    ("Export", (ExportPanel,)),
)


@solara.component
def PageTabs(model: LiveRun) -> None:
    """The named tabs of :data:`TABS`; only the open one renders (and redraws as weeks pass).

    Each tab's cards flow into as many columns of at least 480 px as the screen has room for
    (the page's ``.pk-grid`` style): one on a 1024 px laptop, two on a 1440 px projector.
    """
    tab = solara.use_reactive(0)
    with solara.lab.Tabs(value=tab, lazy=True):
        for name, parts in TABS:
            with solara.lab.Tab(name):
                with solara.v.Html(tag="div", class_="pk-grid"):
                    for part in parts:
                        part(model)


__all__ = [
    "TABS",
    "ClassroomTour",
    "EventLog",
    "Inspector",
    "NetworkView",
    "PageTabs",
    "WhatIf",
    "balance_sheet_history",
    "chart",
    "institutions",
]
