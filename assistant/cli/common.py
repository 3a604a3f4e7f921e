"""What every ``python -m assistant`` command shares: global options turned into Settings."""

import argparse
from pathlib import Path

from assistant.answering.llm import PROVIDERS
from core.settings import Settings


def add_global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $ACTIVITY_DATA_DIR or ./var)")
    parser.add_argument("--kb-dir", type=Path, help="knowledge-base folder (default: $ACTIVITY_KB_DIR or ./kb)")
    parser.add_argument("--llm", choices=PROVIDERS, help="answer writer (default: $ACTIVITY_LLM_PROVIDER or auto)")


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": args.data_dir, "kb_dir": args.kb_dir, "llm_provider": args.llm}
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
