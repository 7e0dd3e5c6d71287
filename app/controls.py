"""The sidebar's run controls and levers, and the background loops that play weeks.

Mesa's SolaraViz sidebar puts its developer controls (play interval, render interval, threads)
above everything, shows no slider's value and lets a long label squeeze its slider to a dot. The
page builds its own (:func:`RunControls`, :func:`LeverInputs`, :func:`Advanced`), with the same
buttons (Reset, ▶/❚❚, Step) and the same ``model_params`` specs:

- every slider's label ends with its value in words and units (:func:`app.levers.shown`), and
  the label sits above a slider as wide as the sidebar;
- the pause between weeks and the weeks per redraw are under "Advanced".

Loops (Play here, "Play tour" in :mod:`app.components`) run in a thread of their own and stop
when they are paused, when their component leaves the page (a tab switch, a Reset), and when the
browser session ends (:func:`use_loop_guard`): a closed tab no longer plays on to week 520.
While playing they redraw adaptively (:class:`Redraw`): a redraw waits until the model has run
three times as long as the last redraw took (:data:`DRAW_SHARE`), so a slow browser costs weeks a
redraw, never weeks a second, and a render never starts while another is under way. A redraw is
one render pass of the page (:func:`use_redraw`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import reacton.core
import solara
from mesa.visualization.utils import force_update

from app.levers import shown
from app.live import LiveRun

#: Advanced: pause between weeks while playing (ms); none by default, the page runs as fast
#: as the model and the redraws allow.
PLAY_INTERVAL_MS = 0
#: Advanced: weeks per redraw while playing; 0 = adaptive (:class:`Redraw`).
RENDER_INTERVAL = 0
#: Adaptive redraws: the most of a playing loop's time that goes to redrawing the page. With 8
#: worlds a week of the model takes about 45 ms here and a redraw of the Classroom tab about 25 ms
#: on the server (the browser draws on the other core), so a share of 1/2 redrew every week
#: (about 14 weeks/s); 1/4 redraws every second or third week, still several times a second.
DRAW_SHARE = 0.25

log = logging.getLogger("powderkeg.app")


def session_alive() -> Callable[[], bool]:
    """A check that the browser session of the calling render is still there.

    False once Solara closed the session's kernel context, or once none of its pages is connected
    (the tab was closed or lost its connection). Outside a Solara server (a notebook, a test
    render) it is always True.
    """
    try:
        from solara.server import kernel_context

        context = kernel_context.get_current_context()
    except Exception:  # no server, no session: nothing to end with
        return lambda: True
    statuses = getattr(context, "page_status", {})
    closed = getattr(context, "closed_event", threading.Event())

    def alive() -> bool:
        if closed.is_set():
            return False
        now = list(statuses.values())
        return not now or any(s == kernel_context.PageStatus.CONNECTED for s in now)

    return alive


def use_loop_guard() -> Callable[[], bool]:
    """A hook: a check for a background loop of the calling component.

    The check turns False once the component left the page (its effect's cleanup) or the
    browser session ended (:func:`session_alive`).
    """
    left = solara.use_memo(threading.Event, [])
    solara.use_effect(lambda: left.set, [])  # the effect's cleanup runs on unmount
    alive = solara.use_memo(session_alive, [])
    return lambda: not left.is_set() and alive()


def use_redraw() -> Callable[[], None]:
    """A hook: the page's redraw, in one render pass.

    Mesa's ``force_update`` bumps one counter that every component showing the model subscribes
    to; Solara tells the subscribers one after the other, and each one starts a render pass of its
    own (four passes per redraw on the Classroom tab). The redraw returned here bumps the counter
    inside one batch of the calling page's render context (reacton's ``with context:``), so the
    page renders once, when the batch closes. Outside a render (no context) it is
    ``force_update``.
    """
    context = reacton.core.get_render_context(required=False)
    return solara.use_memo(lambda: _one_pass(context), [])


def _one_pass(context: Any) -> Callable[[], None]:
    if context is None:
        return force_update

    def redraw() -> None:
        with context:
            force_update()

    return redraw


class Redraw:
    """When a playing loop redraws the page.

    Args:
        every: weeks per redraw; 0 or less: adaptive, a redraw once the model has run long
            enough since the previous one that drawing takes at most ``share`` of the time.
        share: the adaptive redraws' most share of the time (:data:`DRAW_SHARE`).
        draw: the redraw (Mesa's ``force_update``: every component that shows the model renders).
    """

    def __init__(
        self, every: int = 0, draw: Callable[[], None] = force_update, share: float = DRAW_SHARE
    ) -> None:
        if not 0.0 < share < 1.0:
            raise ValueError(f"share must lie strictly between 0 and 1; got {share}")
        self.every = int(every)
        self.draw = draw
        self.wait = (1.0 - share) / share  # model time per unit of drawing time
        self.weeks = 0
        self.drawn = 0
        self.cost_s = 0.0
        self.since = time.perf_counter()

    def week_done(self) -> None:
        """Count one week, and redraw if one is due."""
        self.weeks += 1
        now = time.perf_counter()
        if self.every > 0:
            due = self.weeks % self.every == 0
        else:
            due = now - self.since >= self.wait * self.cost_s
        if due:
            self.now()

    def now(self) -> None:
        """Redraw at once (the last week of a run is always shown)."""
        start = time.perf_counter()
        self.draw()
        self.drawn = self.weeks
        self.since = time.perf_counter()
        self.cost_s = self.since - start


def play(
    step: Callable[[], Any],
    keep_going: Callable[[], bool],
    pause_s: float = 0.0,
    every: int = 0,
    max_weeks: int | None = None,
    draw: Callable[[], None] = force_update,
    lock: AbstractContextManager[Any] | None = None,
) -> int:
    """Run ``step`` week after week while ``keep_going()``; returns the weeks run.

    Pauses ``pause_s`` seconds before each week, redraws as :class:`Redraw` says and once at the
    end, and stops after ``max_weeks`` weeks (None: no limit). A week and its redraw hold
    ``lock`` (the model's :attr:`~app.live.LiveRun.lock`), so two loops take turns.
    """
    redraw = Redraw(every, draw)
    turn = lock if lock is not None else nullcontext()
    weeks = 0
    while keep_going() and (max_weeks is None or weeks < max_weeks):
        if pause_s > 0:
            time.sleep(pause_s)
            if not keep_going():
                break
        with turn:
            step()
            weeks += 1
            redraw.week_done()
    if redraw.drawn != redraw.weeks:
        with turn:
            redraw.now()
    return weeks


@solara.component
def RunControls(
    model: solara.Reactive[LiveRun],
    values: solara.Reactive[dict[str, Any]],
    interval_ms: solara.Reactive[int],
    render_every: solara.Reactive[int],
) -> None:
    """Reset (a new model from the sidebar's values), ▶/❚❚ and Step, and any model error.

    A model error (in a step, or a Reset with values the model refuses) is logged on the server
    with its traceback and shown here as one line; it stops Play.
    """
    playing = solara.use_reactive(False)
    problem = solara.use_reactive("")
    guard = use_loop_guard()
    redraw = use_redraw()

    def attempt(action: Callable[[], None], what: str) -> bool:
        try:
            action()
        except Exception as err:  # the page outlives any model error; the log keeps it
            log.exception("%s failed", what)
            problem.set(f"{what} failed: {type(err).__name__}: {err}")
            return False
        problem.set("")
        return True

    def loop() -> None:
        def step() -> None:
            if not attempt(model.value.step, "Play"):
                playing.set(False)

        play(
            step,
            lambda: playing.value and guard(),
            pause_s=interval_ms.value / 1000.0,
            every=render_every.value,
            draw=redraw,
            lock=model.value.lock,
        )

    solara.lab.use_task(loop, dependencies=[playing.value, id(model.value)], prefer_threaded=True)

    def reset() -> None:
        playing.set(False)
        if attempt(lambda: model.set(LiveRun(**values.value)), "Reset"):
            redraw()

    def step_once() -> None:
        if attempt(model.value.step, "Step"):
            redraw()

    with solara.Row(justify="space-between"):
        solara.Button("Reset", color="primary", on_click=reset)
        solara.Button(
            "❚❚" if playing.value else "▶",
            color="primary",
            on_click=lambda: playing.set(not playing.value),
        )
        solara.Button("Step", color="primary", on_click=step_once, disabled=playing.value)
    if problem.value:
        solara.Error(problem.value, dense=True)


def slider_label(spec: dict[str, Any], value: Any) -> str:
    """A slider's label: its name and range, then its value in words and units."""
    return f"{spec['label']}: {shown(value, spec)}"


@solara.component
def LeverInputs(params: dict[str, Any], values: solara.Reactive[dict[str, Any]]) -> None:
    """The scenario, seed, worlds and levers (``model_params`` specs), applied on Reset.

    Sliders show their value with units in their label, above a full-width track; a dropdown's
    label sits above it and wraps instead of being cut (the page's ``.pk-select`` style).
    """
    for name, spec in params.items():
        value = values.value.get(name, spec["value"])

        def change(new: Any, name: str = name) -> None:
            values.set({**values.value, name: new})

        kind = spec["type"]
        if kind in ("SliderInt", "SliderFloat"):
            slider = solara.SliderInt if kind == "SliderInt" else solara.SliderFloat
            with solara.Column(classes=["pk-slider"], gap="0px"):
                slider(
                    slider_label(spec, value),
                    value=value,
                    on_value=change,
                    min=spec["min"],
                    max=spec["max"],
                    step=spec["step"],
                    thumb_label=False,
                )
        elif kind == "Select":
            solara.Select(
                spec["label"],
                value=value,
                values=spec["values"],
                on_value=change,
                classes=["pk-select"],
            )
        elif kind == "Checkbox":
            solara.Checkbox(label=spec["label"], value=value, on_value=change)
        else:
            raise ValueError(f"model_params[{name!r}]: unsupported widget {kind!r}")


@solara.component
def Advanced(interval_ms: solara.Reactive[int], render_every: solara.Reactive[int]) -> None:
    """Developer controls, folded away: pause between weeks and weeks per redraw while playing."""
    with solara.Details("Advanced", expand=False):
        with solara.Column(classes=["pk-slider"], gap="0px"):
            solara.SliderInt(
                f"Pause between weeks while playing (ms, 0–500): {interval_ms.value} ms",
                value=interval_ms,
                min=0,
                max=500,
                step=10,
                thumb_label=False,
            )
        every = render_every.value
        with solara.Column(classes=["pk-slider"], gap="0px"):
            solara.SliderInt(
                "Weeks per redraw while playing (0 = adaptive, 0–20): "
                + ("adaptive" if every <= 0 else f"{every}"),
                value=render_every,
                min=0,
                max=20,
                step=1,
                thumb_label=False,
            )


__all__ = [
    "DRAW_SHARE",
    "PLAY_INTERVAL_MS",
    "RENDER_INTERVAL",
    "Advanced",
    "LeverInputs",
    "Redraw",
    "RunControls",
    "play",
    "session_alive",
    "slider_label",
    "use_loop_guard",
    "use_redraw",
]
