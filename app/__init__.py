"""The interactive app (Mesa SolaraViz) and its classroom mode.

``app/app.py`` holds the page (``solara run app.app`` or ``powderkeg ui``); :mod:`app.live` the
model the page drives; :mod:`app.levers` the sliders; :mod:`app.charts` and :mod:`app.network`
the figures; :mod:`app.tours` the guided tours (``app/tours/*.toml``); :mod:`app.components`
the Solara components.
"""
