"""`vidserve` command line: one subcommand per module, each with add_parser() and run()."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType

# Subcommand modules; each exposes add_parser(subparsers) and run(args) -> int.
_COMMANDS = ("server.cli_generate", "server.cli_weights", "server.cli_serve", "server.cli_post", "server.cli_bench")


def _modules() -> list[ModuleType]:
    mods = []
    for name in _COMMANDS:
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an absent subcommand
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidserve", description="Self-hosted video generation server.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for mod in _modules():
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
