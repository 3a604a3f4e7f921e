"""``python -m indexing kb``: sync the knowledge base into Chroma; optionally ask it something."""

import argparse

from core.cli import settings_from
from indexing.kb.knowledge_base import KnowledgeBase


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    kb = subparsers.add_parser("kb", help="sync kb/*.md into the Chroma collection (incremental)")
    kb.add_argument("--search", metavar="QUESTION", help="after syncing, print the passages closest to this")
    kb.add_argument("--label", action="append", help="restrict --search to this activity (repeatable)")
    kb.add_argument("--k", type=int, default=5)
    kb.set_defaults(handler=run_kb)


def run_kb(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    kb = KnowledgeBase.from_settings(settings)
    report = kb.sync()
    print(f"knowledge base {settings.kb_dir} -> {settings.chroma_url or settings.chroma_dir}: {report.summary()}")
    for name, reason in report.skipped:
        print(f"  skipped {name}: {reason}")
    if args.search:
        for passage in kb.search(args.search, args.k, labels=args.label):
            print(f"\n[{passage.score:.3f}] {passage.file} > {passage.section} ({passage.label})\n{passage.text}")
    return 0
