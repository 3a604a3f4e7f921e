"""``python -m indexing {frames,add,remove,search,evaluate,kb}``: parse arguments, call the library."""

import argparse
import sys

from core.cli import dispatch, run_cli
from indexing import cli_frames, cli_kb, cli_search

COMMAND_MODULES = [cli_frames, cli_search, cli_kb]


def main(argv: list[str] | None = None) -> int:
    return dispatch(argparse.ArgumentParser(prog="python -m indexing", description=__doc__), COMMAND_MODULES, argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
