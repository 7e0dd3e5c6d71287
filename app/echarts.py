"""An ECharts figure widget for the app's charts (template ``app/static/echarts.vue``).

Solara's own ``FigureEcharts`` initialises a chart when ECharts has loaded, even if the chart was
removed in the meantime, which throws "Initialize failed: invalid dom" in the browser whenever a
tab switch or a grid re-layout removes a chart that was still loading. This widget skips such a
chart, disposes of charts it removes, and follows its container's size. It loads the same
ECharts release Solara's component names (so ``app.assets`` seeds it for offline use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipyvuetify
import solara
import traitlets

from app.assets import echarts_version

TEMPLATE = Path(__file__).resolve().parent / "static" / "echarts.vue"


class EchartsFigure(ipyvuetify.VuetifyTemplate):
    """The widget: an ECharts ``option`` drawn in a ``div`` with ``attributes``."""

    template_file = (str(TEMPLATE.parent.parent / "echarts.py"), "static/echarts.vue")
    option = traitlets.Any({}).tag(sync=True)
    attributes = traitlets.Dict({}).tag(sync=True)
    version = traitlets.Unicode(echarts_version()).tag(sync=True)


@solara.component
def Echarts(option: dict[str, Any], height_px: int = 165) -> Any:
    """An ECharts figure of ``option``, ``height_px`` tall and as wide as its container."""
    return EchartsFigure.element(
        option=option, attributes={"style": f"height: {height_px}px; width: 100%"}
    )


__all__ = ["Echarts", "EchartsFigure"]
