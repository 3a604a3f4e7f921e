"""What every command-line entry point shares: logging setup and turning errors into exit codes."""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from core.errors import AssistantError


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main``; a project error is printed as one readable line and exits with status 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(main(argv) or 0)
    except AssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def dispatch(parser: argparse.ArgumentParser, command_modules: Sequence[ModuleType], argv: list[str] | None) -> int:
    """Let each module add its subcommands (``add_subcommands``), parse, run the chosen handler."""
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in command_modules:
        module.add_subcommands(subparsers)
    args = parser.parse_args(argv)
    return args.handler(args)
