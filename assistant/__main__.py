"""``python -m assistant {ask,calibrate,setup,zeroshot}``: parse arguments, call the library.

python -m assistant ask clip.mp4 "what is happening in this clip?"
python -m assistant ask clips/ --json > answers.jsonl
python -m assistant calibrate --data var/prepared
python -m assistant zeroshot --data var/prepared --split test
"""

import argparse
import sys

from assistant import cli_ask, cli_calibrate, cli_setup, cli_zeroshot
from assistant.cli_common import add_global_options
from training.cli_support import dispatch, run_cli

COMMAND_MODULES = [cli_ask, cli_calibrate, cli_setup, cli_zeroshot]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_global_options(parser)
    return dispatch(parser, COMMAND_MODULES, argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
