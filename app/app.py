"""The powderkeg app: the page with classroom mode (``powderkeg ui``).

Run it with ``powderkeg ui [--scenario NAME] [--host HOST] [--port PORT]`` (or
``solara run app.app``); in a Jupyter notebook, ``from app.app import Page; Page()`` shows the
same page. Every browser session gets its own :class:`~app.live.LiveRun`, built from the
sidebar's settings (the scenario picker, seed, worlds and the levers of :mod:`app.levers`);
Reset rebuilds it from them, so the same settings replay the same worlds.

The page is laid out here rather than by Mesa's SolaraViz, whose tabs can only be called
"Page 0/1/2" and whose developer controls sit on top: the app bar keeps the week in view, the
sidebar has the run controls, the levers with their values (:mod:`app.controls`) and an
"Advanced" fold, and the main area has named tabs (:data:`app.components.TABS`) whose cards flow
into one column on a 1024 px laptop and two on a projector's 1440 px (:data:`CSS`).

``$POWDERKEG_SCENARIO`` sets the preset the page starts with (``powderkeg ui --scenario``).
"""

from __future__ import annotations

import os

import solara
import solara.server.settings
from mesa.visualization.utils import update_counter

from abm.calibration import load_calibration
from app.components import PageTabs
from app.controls import PLAY_INTERVAL_MS, RENDER_INTERVAL, Advanced, LeverInputs, RunControls
from app.levers import RunSettings, model_params
from app.live import LiveRun
from experiments.scenarios import preset_names

#: Environment variable naming the preset the page starts with.
SCENARIO_ENV = "POWDERKEG_SCENARIO"

#: Solara's "This website runs on Solara" banner floats over the bottom right of the page, on
#: top of the charts' axes; the credit is in the sidebar instead.
solara.server.settings.theme.show_banner = False

#: The page's style: a narrower sidebar (Solara's is at least 400 px, 40% of a 1024 px screen),
#: slider and dropdown labels above full-width controls and wrapped rather than cut (Vuetify cuts
#: a long label to one line), dropdown entries wrapped too, cards that flow into as many 480 px
#: columns as fit, and colours that read in both themes.
CSS = """
.v-navigation-drawer.solara-content-main { min-width: 280px !important; width: 300px !important;
  max-width: 300px !important; }
.pk-slider .v-input__slot { flex-wrap: wrap; }
.pk-slider .v-input__slot > .v-label { flex: 1 1 100%; max-width: 100%; white-space: normal;
  height: auto; line-height: 1.25; margin: 0 0 2px 0; font-size: 14px; }
.pk-slider .v-input__slot > .v-slider { flex: 1 1 100%; margin: 0; }
.pk-slider .v-messages { display: none; }
.pk-grid { display: grid; gap: 12px; width: 100%;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); }
.pk-grid > * { min-width: 0; }
.pk-wide { grid-column: 1 / -1; }
.pk-grid .v-card { height: 100%; }
.pk-filters .v-btn-toggle { flex-wrap: wrap; max-width: 100%; }
.pk-filters .v-btn-toggle > .v-btn.v-btn { height: 28px; min-width: 0; padding: 0 8px; }
.pk-watch { background: rgba(25, 118, 210, 0.14); border-left: 4px solid #1976d2;
  padding: 4px 8px; margin: 4px 0; }
.pk-question { border-left: 4px solid #f57c00; padding: 4px 8px; margin: 4px 0; }
.pk-expect { margin: 4px 0; } .pk-expect summary { cursor: pointer; font-weight: 600; }
.pk-select .v-select__slot { flex-wrap: wrap; }
.pk-select .v-select__slot > .v-label { position: static !important; transform: none !important;
  flex: 1 1 100%; max-width: 100%; white-space: normal; overflow: visible; height: auto;
  line-height: 1.25; font-size: 14px; margin: 0 0 2px 0; }
.pk-select .v-select__slot > .v-select__selections { flex: 1 1 calc(100% - 32px); min-width: 0; }
.pk-select .v-select__selection, .v-select-list .v-list-item__title,
.v-autocomplete__content .v-list-item__title { white-space: normal; overflow: visible; }
.pk-pick { min-width: 240px; max-width: 100%; flex: 1 1 240px; }
.pk-muted { opacity: 0.72; font-size: 12px; }
.pk-weekbar { display: flex; align-items: baseline; gap: 10px; color: #fff;
  background: rgba(0, 0, 0, 0.35); border-radius: 14px; padding: 2px 12px; }
.pk-week { font-weight: 600; font-size: 20px; white-space: nowrap; }
.pk-run { font-size: 13px; opacity: 0.85; margin-right: 8px; white-space: nowrap; }
.solara-content-main img { max-width: 100%; height: auto; }
.v-tab { text-transform: none; letter-spacing: normal; font-size: 15px; padding: 0 12px; }
"""


def settings() -> RunSettings:
    """The starting scenario, seed and worlds (the scenario from ``$POWDERKEG_SCENARIO``)."""
    presets = preset_names()
    scenario = os.environ.get(SCENARIO_ENV, "baseline")
    if scenario not in presets:
        raise ValueError(f"${SCENARIO_ENV}={scenario!r} is not a preset; presets: {presets}")
    return RunSettings(preset=scenario, presets=presets)


def start_values(params: dict) -> dict:
    """The keyword arguments of the first model: every ``model_params`` entry's value."""
    return {
        k: (v["value"] if isinstance(v, dict) and "type" in v else v) for k, v in params.items()
    }


@solara.component
def WeekBadge(model: LiveRun) -> None:
    """The week, always in view in the app bar, and what is running."""
    update_counter.get()
    worlds = f"{model.n_worlds} world{'s' * (model.n_worlds != 1)}"
    with solara.v.Html(tag="div", class_="pk-weekbar"):
        solara.v.Html(tag="span", class_="pk-week", children=[f"Week {int(model.steps)}"])
        solara.v.Html(
            tag="span", class_="pk-run", children=[f"{model.preset} · seed {model.seed} · {worlds}"]
        )


@solara.component
def Page() -> None:
    """The page: one model per browser session; run controls and levers beside named tabs."""
    params = solara.use_memo(lambda: model_params(settings(), load_calibration()), [])
    first = solara.use_memo(lambda: LiveRun(**start_values(params)), [])
    model = solara.use_reactive(first)
    values = solara.use_reactive(start_values(params))
    interval_ms = solara.use_reactive(PLAY_INTERVAL_MS)
    render_every = solara.use_reactive(RENDER_INTERVAL)

    solara.Style(CSS)
    solara.Title("powderkeg")
    with solara.AppBar():
        solara.AppBarTitle("powderkeg")
        WeekBadge(model.value)
        solara.lab.ThemeToggle()
    with solara.Sidebar():
        with solara.Card("Run"):
            RunControls(model, values, interval_ms, render_every)
        with solara.Card("Scenario and levers"):
            solara.Text("Changes apply on Reset.", classes=["pk-muted"])
            LeverInputs(params, values)
        Advanced(interval_ms, render_every)
        solara.Text("Built with Mesa and Solara.", classes=["pk-muted"])
    PageTabs(model.value)


__all__ = ["CSS", "SCENARIO_ENV", "Page", "WeekBadge", "settings", "start_values"]
