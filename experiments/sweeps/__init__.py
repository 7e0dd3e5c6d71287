"""Sweeps: many scenario variants, each E worlds, on Dask, into a resumable Parquet dataset.

Modules, one job each: :mod:`.parameters` (the sweepable parameters, read off the model's types,
and building a point's model), :mod:`.design` (a design's points), :mod:`.point` (one point on a
worker), :mod:`.store` (the results directory: lock, atomic files, manifest), :mod:`.engine`
(Dask, progress, resume), :mod:`.gpus` (one worker per GPU, and the points that ask for one),
:mod:`.plots` (the report's figures) and :mod:`.command` (``powderkeg sweep``). The sweep files
themselves are :mod:`.spec` (their schema) and :mod:`experiments.config` (read, checked and
expanded into points); the example files live beside these modules (``*.toml``).
"""
