"""One CLI grammar (issue 11): global options anywhere, one name per concept, printed fixes that run.

Every ``python -m training|indexing|assistant ...`` command the product prints as a fix (in
error messages, missing-part hints, the UI) is collected from the source and parsed with the
real argument parser, so a renamed or misplaced flag fails here before a user copies it. Every
command written in README.md and docs/*.md must name a real sub-command and only options it has.
"""

import argparse
import ast
import logging
import re
import shlex
from pathlib import Path

import pytest

from assistant.__main__ import parser as assistant_parser
from core.cli import settings_from
from core.settings import Settings
from indexing.__main__ import parser as indexing_parser
from training.__main__ import parser as training_parser

ROOT = Path(__file__).resolve().parents[1]
PARSERS = {"training": training_parser, "indexing": indexing_parser, "assistant": assistant_parser}
COMMAND = re.compile(r"python -m (training|indexing|assistant) [a-z][^`'\"\n]*")


@pytest.mark.parametrize(
    ("module", "command"),
    [
        ("training", ["prepare", "--source", "videos"]),
        ("training", ["train", "--model", "cnn3d"]),
        ("indexing", ["frames"]),
        ("indexing", ["kb"]),
        ("assistant", ["calibrate"]),
        ("assistant", ["ask", "clip.mp4"]),
    ],
)
def test_global_options_go_before_or_after_the_sub_command(module, command):
    before = PARSERS[module]().parse_args(["--data-dir", "/d", "--kb-dir", "/k", "--log-level", "debug", *command])
    after = PARSERS[module]().parse_args([*command, "--data-dir", "/d", "--kb-dir", "/k", "--log-level", "debug"])
    for args in (before, after):
        settings = settings_from(args)
        assert (settings.data_dir, settings.kb_dir, args.log_level) == (Path("/d"), Path("/k"), "DEBUG")
    # Given on neither side, the sub-parser does not overwrite the value with its own default.
    assert settings_from(PARSERS[module]().parse_args(["--data-dir", "/x", *command])).data_dir == Path("/x")


def test_llm_and_clip_weights_are_global_in_the_assistant_cli(tmp_path):
    args = assistant_parser().parse_args(["ask", "clip.mp4", "--llm", "offline", "--clip-weights", str(tmp_path)])
    settings = settings_from(args)
    assert settings.llm_provider == "offline" and settings.clip_weights == tmp_path
    assert settings_from(indexing_parser().parse_args(["--clip-weights", "w.bin", "frames"])).clip_weights == Path(
        "w.bin"
    )


def test_old_spelling_still_works_and_says_which_name_to_use(caplog):
    with caplog.at_level(logging.WARNING):
        args = training_parser().parse_args(["prepare", "--source", "videos", "--out", "/prepared"])
    assert args.data == Path("/prepared")
    assert "--out is deprecated here; use --data" in caplog.text


def test_a_flag_beats_the_environment_which_beats_the_default(monkeypatch):
    assert Settings().top_k == 5 and Settings().data_dir == Path("var")
    monkeypatch.setenv("ACTIVITY_DATA_DIR", "/from-env")
    monkeypatch.setenv("ACTIVITY_TOP_K", "7")
    assert Settings().data_dir == Path("/from-env") and Settings().top_k == 7
    flagged = settings_from(training_parser().parse_args(["--data-dir", "/from-flag", "train"]))
    assert flagged.data_dir == Path("/from-flag") and flagged.top_k == 7


def test_the_api_key_given_by_name_is_kept_whatever_the_environment(monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "from-env")
    assert Settings().google_api_key == "from-env"
    assert Settings(google_api_key="given").google_api_key == "given"
    monkeypatch.setenv("ACTIVITY_CLIP_WEIGHTS", "/env/clip.bin")
    assert Settings().clip_weights == Path("/env/clip.bin")
    assert Settings(clip_weights="/given.bin").clip_default_pretrained == "/given.bin"


def _string_constants(path: Path) -> list[str]:
    """Every string literal of a module, f-strings with their fields replaced by a placeholder."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            texts.append("".join(v.value if isinstance(v, ast.Constant) else "FIELD" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            texts.append(node.value)
    return texts


def printed_commands() -> list[tuple[str, str]]:
    """(file, command) for every CLI command in the product's strings (docstrings excluded)."""
    found = []
    for folder in ("core", "training", "indexing", "assistant"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            docstrings = {
                ast.get_docstring(node, clean=False)
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
            }
            for text in _string_constants(path):
                if text in docstrings:
                    continue
                for match in COMMAND.finditer(text):
                    found.append((str(path.relative_to(ROOT)), match.group(0)))
    return found


def test_the_product_prints_fix_commands_at_all():
    commands = [command for _, command in printed_commands()]
    assert any("assistant calibrate" in c for c in commands) and any("indexing frames" in c for c in commands)
    assert len(commands) >= 10


@pytest.mark.parametrize(("source", "command"), printed_commands())
def test_every_printed_command_parses_with_the_real_parser(source, command):
    words = shlex.split(re.sub(r"<[^<>]*>", "X", command.rstrip(" .;,)")))
    module, argv = words[2], words[3:]
    try:
        PARSERS[module]().parse_args(argv)
    except SystemExit as error:
        pytest.fail(f"{source} prints `{command}`, which the {module} CLI refuses (exit {error.code})")


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) for every CLI command written in the README and docs/*.md, usage brackets and all."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in COMMAND.finditer(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), match.group(0)))
    return found


def test_the_docs_show_commands_at_all():
    sources = {source for source, _ in documented_commands()}
    assert {"README.md", "docs/assistant.md", "docs/training.md", "docs/retrieval.md"} <= sources
    assert len(documented_commands()) >= 40


@pytest.mark.parametrize(("source", "command"), documented_commands())
def test_every_documented_command_names_a_real_sub_command_and_real_options(source, command):
    """Written commands show optional parts as ``[--flag X]`` and choices as ``a|b``, so they are not parsed
    whole: each must name a sub-command its CLI has, and every ``--option`` it shows must exist there."""
    words = re.sub(r"<[^<>]*>|[\[\]]", " ", command).split("#")[0].split()
    parser = PARSERS[words[2]]()
    [subparsers] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    # "train/evaluate" names two sub-commands at once
    named = [word.split("/")[0] for word in words[3:] if set(word.split("/")) <= set(subparsers.choices)]
    assert named, f"{source}: {command!r} names no sub-command of {words[2]}"
    known = set(parser._option_string_actions) | set(subparsers.choices[named[0]]._option_string_actions)
    shown = {word.split("=")[0].rstrip(".,;:)`") for word in words[3:] if word.startswith("--")}
    assert shown <= known, f"{source}: {command!r} shows options {sorted(shown - known)} that do not exist"
