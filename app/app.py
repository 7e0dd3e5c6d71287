"""The powderkeg app: a Mesa SolaraViz page with classroom mode (``powderkeg ui``).

Run it with ``powderkeg ui [--scenario NAME] [--host HOST] [--port PORT]`` (or
``solara run app.app``); in a Jupyter notebook, ``from app.app import Page; Page()`` shows the
same page. Every browser session gets its own :class:`~app.live.LiveRun`, built from the
sidebar's settings (the scenario picker, seed, worlds and the levers of :mod:`app.levers`);
SolaraViz's Reset rebuilds it from them, so the same settings replay the same worlds.

``$POWDERKEG_SCENARIO`` sets the preset the page starts with (``powderkeg ui --scenario``).
"""

from __future__ import annotations

import os

import solara
from mesa.visualization import SolaraViz

from abm.calibration import load_calibration
from app.components import COMPONENTS
from app.levers import RunSettings, model_params
from app.live import LiveRun
from experiments.scenarios import preset_names

#: Environment variable naming the preset the page starts with.
SCENARIO_ENV = "POWDERKEG_SCENARIO"


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
def Page() -> None:
    """The page: one model per browser session, shown by SolaraViz with the app's components."""
    params = solara.use_memo(lambda: model_params(settings(), load_calibration()), [])
    model = solara.use_memo(lambda: LiveRun(**start_values(params)), [])
    SolaraViz(model, components=list(COMPONENTS), model_params=params, name="powderkeg")


__all__ = ["SCENARIO_ENV", "Page", "settings", "start_values"]
