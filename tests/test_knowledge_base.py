"""Knowledge base: parsing, incremental sync counted per section, retrieval by label and question."""

import os
import textwrap

import pytest

from core.errors import KnowledgeBaseError
from indexing.__main__ import main
from indexing.kb.front_matter import split_front_matter
from indexing.kb.knowledge_base import KnowledgeBase
from indexing.kb.markdown_chunks import chunk_markdown

GUITAR = """\
---
label: PlayingGuitar
aliases: [guitar, strumming]
confused_with: [PlayingPiano]
---
# Playing guitar

## What it is

A guitarist frets chords on the neck with one hand and strums the strings with the other.

## Often confused with

PlayingPiano: both are seated musicians. A guitar is held against the body with the neck
angled to the side; a piano is a large horizontal keyboard with both hands moving along it.

## Safety and technique notes

Keep the fretting wrist straight; sore fingertips are normal for beginners.
"""

PIANO = """\
---
label: PlayingPiano
aliases: [piano, pianist, keyboard]
confused_with: [PlayingGuitar]
---
# Playing piano

## What it is

A pianist presses black and white keys with both hands, seated on a bench.

## Equipment and setting

Upright or grand piano, bench, sheet music stand, sustain pedal.
"""

SKYDIVING = """\
---
label: SkyDiving
aliases: [skydiving, parachuting, freefall]
confused_with: [Diving]
---
## What it is

Jumping from an aircraft at altitude, falling freely, then opening a parachute to land.

## Often confused with

Diving: springboard or platform divers fall a few metres into a pool; skydivers fall
thousands of metres through open sky with clouds and the ground far below.
"""


def _write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def kb(tmp_path) -> KnowledgeBase:
    folder = tmp_path / "kb"
    folder.mkdir()
    _write(folder, "playing_guitar.md", GUITAR)
    _write(folder, "playing_piano.md", PIANO)
    _write(folder, "sky_diving.md", SKYDIVING)
    return KnowledgeBase(folder, tmp_path / "chroma")


def test_front_matter_and_sections_are_parsed():
    front, body = split_front_matter(GUITAR)
    assert (front.label, front.aliases, front.confused_with) == (
        "PlayingGuitar",
        ("guitar", "strumming"),
        ("PlayingPiano",),
    )
    sections = chunk_markdown(body)
    assert [s.title for s in sections] == ["What it is", "Often confused with", "Safety and technique notes"]
    assert sections[1].slug == "often-confused-with" and "neck" in sections[1].text
    assert chunk_markdown("intro text\n## A\nx\n```\n## not a heading\n```\n## A\ny")[0].title == "Overview"
    assert [s.slug for s in chunk_markdown("## A\nx\n```\n## no\n```\n## A\ny")] == ["a", "a-2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no front matter\n## A\ntext", "must start with a '---' line"),
        ("---\nlabel: X\n## A\ntext", "not closed"),
        ("---\nlabel: [unclosed\n---\n## A\ntext", "not valid YAML"),
        ("---\naliases: [a]\n---\n## A\ntext", "needs 'label"),
        ("---\nlabel: X\naliases: {a: 1}\n---\n## A\ntext", "list of words"),
    ],
)
def test_broken_front_matter_is_explained(text, message):
    with pytest.raises(KnowledgeBaseError, match=message):
        split_front_matter(text)


def test_sync_is_incremental_and_counts_exactly_the_changed_sections(kb):
    assert kb.changed_since_sync()
    first = kb.sync()
    assert (first.added, first.updated, first.deleted, first.unchanged, first.skipped) == (7, 0, 0, 0, [])
    assert not kb.changed_since_sync()
    again = kb.sync()
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 7)

    # Edit one section, add one, in one file: only those two are embedded.
    guitar = kb.kb_dir / "playing_guitar.md"
    text = guitar.read_text().replace("sore fingertips are normal", "calluses form after weeks")
    guitar.write_text(text + "\n## Equipment and setting\n\nPick, strap, capo, amplifier.\n")
    assert kb.changed_since_sync()
    edited = kb.sync()
    assert (edited.added, edited.updated, edited.deleted, edited.unchanged) == (1, 1, 0, 6)
    assert "calluses" in kb.passages_for_label("PlayingGuitar", 5)[2].text

    # Deleting a file removes exactly its sections.
    (kb.kb_dir / "playing_piano.md").unlink()
    deleted = kb.sync()
    assert (deleted.added, deleted.updated, deleted.deleted, deleted.unchanged) == (0, 0, 2, 6)
    assert set(kb.entries()) == {"PlayingGuitar", "SkyDiving"}
    assert kb.collection.count() == 6


def test_a_broken_file_is_reported_and_skipped_not_fatal(kb):
    kb.sync()
    _write(kb.kb_dir, "broken.md", "---\nlabel: [oops\n---\n## What it is\ntext\n")
    bad_edit = SKYDIVING.replace("label: SkyDiving", "label:")
    (kb.kb_dir / "sky_diving.md").write_text(bad_edit)
    report = kb.sync()
    assert [name for name, _ in report.skipped] == ["broken.md", "sky_diving.md"]
    assert "YAML" in report.skipped[0][1] and "label" in report.skipped[1][1]
    # The good files are in sync; the last good version of a broken file stays until it is fixed.
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 5)
    assert "SkyDiving" in kb.entries() and kb.collection.count() == 7


def test_retrieval_by_label_and_by_question(kb):
    kb.sync()
    entries = kb.entries()
    assert entries["PlayingGuitar"].aliases == ("guitar", "strumming")
    assert entries["SkyDiving"].confused_with == ("Diving",) and entries["SkyDiving"].file == "sky_diving.md"

    own = kb.passages_for_label("guitar", k=5)  # an alias resolves to its label
    assert [p.section for p in own[:3]] == ["What it is", "Often confused with", "Safety and technique notes"]
    assert {p.label for p in own[:3]} == {"PlayingGuitar"} and len(own) == 5

    top = kb.search("how can I tell a guitar player from someone at a piano keyboard?", k=3)[0]
    assert (top.file, top.section) == ("playing_guitar.md", "Often confused with")
    top = kb.search("difference between falling from a plane and jumping into a swimming pool", k=3)[0]
    assert (top.file, top.section) == ("sky_diving.md", "Often confused with")
    restricted = kb.search("what equipment is needed?", k=5, labels=["piano"])
    assert restricted and {p.file for p in restricted} == {"playing_piano.md"}
    assert all(-1.0 <= p.score <= 1.0 for p in restricted)


def test_changed_since_sync_notices_a_touched_file(kb):
    kb.sync()
    path = kb.kb_dir / "playing_piano.md"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert kb.changed_since_sync()
    assert kb.sync().unchanged == 7  # touched, not changed: nothing re-embedded


def test_cli_syncs_and_answers(kb, tmp_path, capsys):
    args = ["kb", "--kb-dir", str(kb.kb_dir), "--data-dir", str(tmp_path / "var")]
    assert main([*args, "--search", "what do pianists sit on?", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "added 7, updated 0, deleted 0, unchanged 0" in out and "playing_piano.md > " in out
    assert main(args) == 0
    assert "unchanged 7" in capsys.readouterr().out
