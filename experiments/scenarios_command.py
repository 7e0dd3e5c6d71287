"""``powderkeg scenarios [list | show NAME]``: the presets, their stories, shocks and sources."""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.usage import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg scenarios``."""
    parser.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=("list", "show"),
        help="list the presets (default), or show one",
    )
    parser.add_argument(
        "name", nargs="?", metavar="NAME|FILE.toml", help="the preset or file to show"
    )


def command(args: argparse.Namespace) -> int:
    """``powderkeg scenarios [list | show NAME]``: the presets, their stories, shocks, sources."""
    from experiments.scenarios import describe, load_file, load_preset, preset_names

    if args.action == "list":
        if args.name is not None:
            raise UsageError(f"argument action: 'list' takes no name; got {args.name!r}")
        for name in preset_names():
            preset = load_preset(name)
            print(
                f"{name:<28} {len(preset.shocks)} shock{'s' * (len(preset.shocks) != 1):<2} "
                f"{preset.title}"
            )
        return 0
    if args.name is None:
        raise UsageError(f"argument NAME: give a preset to show: {', '.join(preset_names())}")
    if args.name in preset_names() or not args.name.endswith(".toml"):
        print(describe(load_preset(args.name)))
    else:
        print(describe(load_file(Path(args.name))))
    return 0


__all__ = ["add_arguments", "command"]
