"""``python -m training {download,prepare,train,evaluate,compare,predict}``: parse arguments, call the library."""

import argparse
import sys

from core.cli import dispatch, run_cli
from training import cli_download, cli_prepare, cli_train

COMMAND_MODULES = [cli_download, cli_prepare, cli_train]


def main(argv: list[str] | None = None) -> int:
    return dispatch(argparse.ArgumentParser(prog="python -m training", description=__doc__), COMMAND_MODULES, argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
