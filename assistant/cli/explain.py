"""``python -m assistant explain VIDEO [--label L] [--out DIR] [--json]``: show what the classifier looked at.

Writes PNG overlays of the key frames, a GIF of the most decisive window and the importance
curve, then prints where they are (with ``--json``: the explanation, its curve and the paths).
Without ``--label`` the answer's own verdict is explained, so the video is analysed first.
"""

import argparse
import json
from pathlib import Path

from assistant.analysis.explain import explain_video
from assistant.analysis.explain_images import write_files
from assistant.service import Assistant
from core.cli import settings_from


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    explain = subparsers.add_parser(
        "explain", help="heat maps and key moments: what the classifier looked at for a video's answer"
    )
    explain.add_argument("video", type=Path, help="video file (or image, for a frame model)")
    explain.add_argument("--label", help="class to explain (default: the answer's verdict); e.g. why not Diving?")
    explain.add_argument("--out", type=Path, help="folder for the images (default: <data dir>/explanations)")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON, importance curve included")
    explain.set_defaults(handler=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    assistant = Assistant(settings)
    evidence = None if args.label else assistant.analyse(args.video)
    explanation = explain_video(args.video, assistant.snapshot(), settings, label=args.label, evidence=evidence)
    out_dir = args.out or settings.data_dir / "explanations"
    paths = write_files(explanation, out_dir, args.video.stem)
    part = explanation.part
    if args.json:
        print(json.dumps({**part.model_dump(mode="json"), "files": [str(p) for p in paths]}))
        return 0
    print(f"{part.label} ({part.probability:.0%}) explained by {part.method} of {part.model}.")
    print(f"Most important moment: {part.peak_s:.1f} s; the heat covers {part.coverage:.0%} of the pictures.")
    for moment in part.moments:
        print(f"  {moment.time_s:5.1f} s  importance {moment.importance:.2f}  heat at the {moment.region}")
    print("Files:")
    for path in paths:
        print(f"  {path}")
    return 0
