"""``python -m assistant ask PATH [QUESTION] [--json]``: answer about a video, an image or a folder."""

import argparse
import json
from pathlib import Path

from assistant.answering.evidence_text import evidence_summary
from assistant.service import DEFAULT_QUESTION, Assistant
from core.cli import settings_from
from core.errors import AssistantError, VideoError
from training.data.sources.types import VIDEO_SUFFIXES
from video.decoding import STILL_SUFFIXES


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    ask = subparsers.add_parser("ask", help="answer a question about a video, an image, or every file in a folder")
    ask.add_argument("path", type=Path, help="video or image file, or a folder of them")
    ask.add_argument("question", nargs="?", default=DEFAULT_QUESTION)
    ask.add_argument("--json", action="store_true", help="one JSON line per file: the evidence and the answer")
    ask.set_defaults(handler=run_ask)


def media_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    suffixes = set(VIDEO_SUFFIXES) | STILL_SUFFIXES
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith("."))
    if not found:
        raise VideoError(f"{path} holds no video or image files ({', '.join(sorted(suffixes))}).")
    return found


def run_ask(args: argparse.Namespace) -> int:
    """A folder goes on past files that fail (reporting each); a single file's error is the exit status."""
    assistant = Assistant(settings_from(args))
    folder = args.path.is_dir()
    failures = 0
    for path in media_files(args.path):
        try:
            evidence = assistant.analyse(path)
        except AssistantError as error:
            if not folder:
                raise
            failures += 1
            print(json.dumps({"path": str(path), "error": str(error)}) if args.json else f"{path}: error: {error}")
            continue
        if args.json:
            answer = assistant.answer(args.question, evidence)
            print(json.dumps({"evidence": evidence.model_dump(mode="json"), "answer": answer}), flush=True)
            continue
        if folder:
            print(f"\n=== {path}")
        for chunk in assistant.answer_stream(args.question, evidence):
            print(chunk, end="", flush=True)
        print("\n\n--- evidence ---")
        print(evidence_summary(evidence))
    return 1 if failures else 0
