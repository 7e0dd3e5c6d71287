"""The model of a scenario: the one place where a scenario becomes a :class:`abm.model.Powderkeg`.

:func:`build_model` takes a scenario definition (:class:`experiments.scenarios.Scenario`: its
``[policy]`` and its shocks) and the run's settings, and returns the model, not yet stepped, with
the scenario's policy and its shocks scheduled (:func:`abm.shocks.attach`). ``powderkeg run`` and
``powderkeg evidence`` (:mod:`experiments.run`, :mod:`experiments.evidence`), every sweep point
(:mod:`experiments.sweeps.parameters`), the sweep files' series check (:mod:`experiments.config`)
and the benchmarks (:mod:`benchmarks.model`) build here; the app's
:class:`app.live.LiveRun`, a model class of its own, passes :func:`model_arguments` to the
model's constructor and schedules its (scaled) shocks itself. So a scenario's policy means the
same everywhere.

The ablation's channel configurations (:func:`ablation_configs`, :func:`channels_of`) live here
too: ``powderkeg evidence`` and the sweeps' ``channels`` parameter share them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from experiments.scenarios import Scenario, policy_from

if TYPE_CHECKING:
    from abm.calibration import Calibration
    from abm.channels import Channels
    from abm.model import Powderkeg
    from abm.policy import Policy
    from abm.shocks import Shock


def ablation_configs() -> tuple[str, ...]:
    """``none``, each channel alone (by name), then ``all``."""
    from abm.channels import Channels

    return ("none", *Channels.names(), "all")


def channels_of(config: str) -> Channels:
    """The :class:`abm.channels.Channels` of an ablation configuration name."""
    from abm.channels import Channels

    if config == "all":
        return Channels()
    if config == "none":
        return Channels.only()
    return Channels.only(config)


def model_arguments(
    definition: Scenario | None,
    *,
    n_worlds: int,
    seed: int,
    backend: str,
    n_cohorts: int | None = None,
    policy: Policy | None = None,
    policy_overrides: Mapping[str, Any] | None = None,
    channels: Channels | None = None,
    calibration: Calibration | None = None,
    collect_agents: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """The keyword arguments of :class:`abm.model.Powderkeg` for a scenario and a run's settings.

    Args:
        definition: the scenario (None: the model's defaults, no policy settings).
        n_worlds: E, worlds simulated together.
        seed: world w draws from seed + w.
        backend: ``auto``, ``numpy`` or ``cupy``.
        n_cohorts: retail cohorts (None: the model's default).
        policy: the whole policy, instead of the scenario's ``[policy]`` (a sweep point's or
            the app's levers applied to :func:`experiments.scenarios.policy_from`).
        policy_overrides: keys of the scenario's ``[policy]`` replaced (a preset's ``[compare]``
            counterfactual).
        channels: the contagion channels on (None: all; see :func:`channels_of`).
        calibration: the calibration (None: the packaged one).
        collect_agents: whether the model keeps Mesa agent objects.
        **settings: any other keyword argument of the model (a sweep's ``model.*`` values).

    Raises:
        ValueError: both ``policy`` and ``policy_overrides`` are given.
    """
    if policy is not None and policy_overrides:
        raise ValueError("give policy or policy_overrides, not both")
    if policy is None and (definition is not None or policy_overrides):
        base = definition.policy if definition is not None else {}
        policy = policy_from({**base, **(policy_overrides or {})})
    if n_cohorts is not None:
        settings["n_cohorts"] = n_cohorts
    return {
        "n_worlds": n_worlds,
        "seed": seed,
        "backend": backend,
        "calibration": calibration,
        "collect_agents": collect_agents,
        "channels": channels,
        "policy": policy,
        **settings,
    }


def build_model(
    definition: Scenario | None,
    *,
    shocks: Sequence[Shock] | None = None,
    **arguments: Any,
) -> Powderkeg:
    """The model of ``definition``, not yet stepped: its policy set and its shocks scheduled.

    Args:
        definition: the scenario (None: the model's defaults, no policy settings, no shocks).
        shocks: the shocks to schedule instead of the scenario's (a sweep point's).
        **arguments: the run's settings: ``n_worlds``, ``seed`` and ``backend``, and any of
            :func:`model_arguments` (``n_cohorts``, ``policy``, ``policy_overrides``,
            ``channels``, ``calibration``, ``collect_agents``, other model settings).
    """
    from abm.model import Powderkeg
    from abm.shocks import attach

    model = Powderkeg(**model_arguments(definition, **arguments))
    if shocks is None and definition is not None:
        shocks = definition.shocks
    if shocks:
        attach(model, tuple(shocks))
    return model


__all__ = ["ablation_configs", "build_model", "channels_of", "model_arguments"]
