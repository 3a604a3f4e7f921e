"""``python -m assistant {ask,calibrate,explain,setup,watch,zeroshot}``: parse arguments, call the library.

python -m assistant ask clip.mp4 "what is happening in this clip?"
python -m assistant ask clips/ --json > answers.jsonl
python -m assistant calibrate --data var/prepared
python -m assistant zeroshot --data var/prepared --split test
python -m assistant explain clip.mp4 --label Diving --out explained/
python -m assistant watch rtsp://camera.local/stream --json
"""

import sys

from assistant.cli import ask, calibrate, explain, setup, watch, zeroshot
from core.cli import (
    CLIP_OPTIONS,
    DEVICE_OPTIONS,
    KB_OPTIONS,
    LLM_OPTIONS,
    LOCATION_OPTIONS,
    RUNTIME_OPTIONS,
    build_parser,
    dispatch,
    run_cli,
)

COMMAND_MODULES = [ask, calibrate, explain, setup, watch, zeroshot]
GLOBAL_OPTIONS = (*LOCATION_OPTIONS, *DEVICE_OPTIONS, *RUNTIME_OPTIONS, *KB_OPTIONS, *LLM_OPTIONS, *CLIP_OPTIONS)


def parser():
    return build_parser("python -m assistant", __doc__, COMMAND_MODULES, GLOBAL_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    return dispatch(parser(), argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
