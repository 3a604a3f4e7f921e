"""``python -m indexing {frames,add,remove,search,evaluate,kb,export-encoder}``: parse arguments, call the library."""

import sys

from core.cli import CLIP_OPTIONS, KB_OPTIONS, LOCATION_OPTIONS, RUNTIME_OPTIONS, build_parser, dispatch, run_cli
from indexing.cli import export, frames, kb, search

COMMAND_MODULES = [frames, search, kb, export]


def parser():
    return build_parser(
        "python -m indexing",
        __doc__,
        COMMAND_MODULES,
        (*LOCATION_OPTIONS, *KB_OPTIONS, *CLIP_OPTIONS, *RUNTIME_OPTIONS),
    )


def main(argv: list[str] | None = None) -> int:
    return dispatch(parser(), argv)


def cli() -> int:
    """The ``activity-indexing`` console script, the same as ``python -m indexing``."""
    return run_cli(main)


if __name__ == "__main__":
    sys.exit(cli())
