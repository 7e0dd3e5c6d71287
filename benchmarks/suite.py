"""The whole ``powderkeg bench``: the kernel benchmarks and the model benchmarks, in one result.

The result keeps the kernel benchmarks' keys at the top level, as in their own schema
``powderkeg.bench.kernels/1`` (``definitions``, ``firesale``, ``loop``, ``clearing``,
``loop_ratio_per_round``), present when the kernels ran, and adds ``model`` (schema
``powderkeg.bench.model/1``, see ``benchmarks.model``) when the model ran. ``sections`` lists
what ran; ``metadata`` describes the machine once for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.environment import load_average, metadata
from kernels.backend import get_namespace

SCHEMA = "powderkeg.bench/2"
SECTIONS = ("kernels", "model")


def run(
    *,
    sections: Sequence[str] = SECTIONS,
    quick: bool = False,
    backend: str = "auto",
    dtypes: Sequence[str] = ("float64", "float32"),
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the chosen benchmark sections and return one JSON-ready dict.

    Args:
        sections: from ``"kernels"`` and ``"model"``, run in that order.
        quick: the small plans (the whole suite well under 30 s).
        backend: ``"auto"``, ``"numpy"`` or ``"cupy"``.
        dtypes: dtypes of the fire-sale rows (the model runs in float64).
        seed: seed of every instance and model.
        progress: show progress bars on stderr.

    Returns:
        ``{"schema", "sections", "mode", "seed", "metadata", ...kernel keys..., "model"}``.

    Raises:
        ValueError: an unknown section, backend or dtype.
        RuntimeError: CuPy was asked for and no GPU answers.
    """
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown or not sections:
        raise ValueError(f"sections must be among {', '.join(SECTIONS)}; got {list(sections)}")
    chosen = [s for s in SECTIONS if s in sections]
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "sections": chosen,
        "mode": "quick" if quick else "full",
        "seed": seed,
    }
    if "kernels" in chosen:
        from benchmarks import kernels

        found = kernels.run(
            quick=quick, backend=backend, dtypes=dtypes, seed=seed, progress=progress
        )
        results["metadata"] = found.pop("metadata")
        found.pop("schema")
        found.pop("mode")
        found.pop("seed")
        results["kernels_schema"] = kernels.SCHEMA
        results.update(found)
    else:
        results["metadata"] = metadata(get_namespace(backend))
    if "model" in chosen:
        from benchmarks import model

        results["model"] = model.run(quick=quick, backend=backend, seed=seed, progress=progress)
    results["metadata"]["load_average_at_end"] = load_average()
    return results
