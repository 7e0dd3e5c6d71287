"""An ECharts figure widget for the app's charts (template ``app/static/echarts.vue``).

Solara's own ``FigureEcharts`` initialises a chart when ECharts has loaded, even if the chart was
removed in the meantime, which throws "Initialize failed: invalid dom" in the browser whenever a
tab switch or a grid re-layout removes a chart that was still loading. This widget skips such a
chart, disposes of charts it removes, and follows its container's size. It loads the same
ECharts release Solara's component names (so ``app.assets`` seeds it for offline use).

The option travels as one JSON string (``option_json``), not as a dict: Solara's renderer walks
every list and dict an element is given, looking for child elements, and a chart's option holds
thousands of numbers, so a dict made each redraw cost most of its time (65 ms of a redraw with
8 worlds at week 110; a string is compared in one step).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ipyvuetify
import solara
import traitlets

from app.assets import echarts_version

TEMPLATE = Path(__file__).resolve().parent / "static" / "echarts.vue"


class EchartsFigure(ipyvuetify.VuetifyTemplate):
    """The widget: an ECharts option (JSON text) drawn in a ``div`` with ``attributes``."""

    template_file = (str(TEMPLATE.parent.parent / "echarts.py"), "static/echarts.vue")
    option_json = traitlets.Unicode("{}").tag(sync=True)
    attributes = traitlets.Dict({}).tag(sync=True)
    version = traitlets.Unicode(echarts_version()).tag(sync=True)

    @property
    def option(self) -> dict[str, Any]:
        """The option drawn, as a dict."""
        return json.loads(self.option_json)


def option_text(option: dict[str, Any]) -> str:
    """``option`` as compact JSON (NaN is not JSON: the charts send None for a gap)."""
    return json.dumps(option, separators=(",", ":"), allow_nan=False)


@solara.component
def Echarts(option: dict[str, Any] | str, height_px: int = 165) -> Any:
    """An ECharts figure of ``option``, ``height_px`` tall and as wide as its container.

    ``option`` is a dict, or already JSON text (:func:`option_text`; the cheaper argument for a
    chart redrawn every week).
    """
    text = option if isinstance(option, str) else option_text(option)
    return EchartsFigure.element(
        option_json=text, attributes={"style": f"height: {height_px}px; width: 100%"}
    )


__all__ = ["Echarts", "EchartsFigure", "option_text"]
