"""KB editing: names confined to kb/, validation before writing, every change synced to Chroma."""

import os

import pytest

from assistant.jobs.kb_editor import KbEditor, file_name_for
from core.errors import KnowledgeBaseError
from indexing.kb.knowledge_base import KnowledgeBase

SWING = """---
label: Swing
aliases: [playground swing]
confused_with: [GolfSwing]
---
# Swing

## What it is

A child on a seat hung from two chains, moving back and forth.

## How it looks on video

- A swing frame and chains; the rider travels along a repeated arc.
"""


@pytest.fixture(scope="module")
def editor(tmp_path_factory) -> KbEditor:
    root = tmp_path_factory.mktemp("kb_editor")
    kb_dir = root / "kb"
    kb_dir.mkdir()
    (kb_dir / "swing.md").write_text(SWING, encoding="utf-8")
    (kb_dir / ".hidden.md").write_text(SWING.replace("Swing", "Hidden"), encoding="utf-8")
    (kb_dir / "notes.txt").write_text("not an activity", encoding="utf-8")
    (root / "outside.md").write_text(SWING.replace("Swing", "Outside"), encoding="utf-8")
    os.symlink(root / "outside.md", kb_dir / "link.md")
    kb = KnowledgeBase(kb_dir, root / "chroma")
    kb.sync()
    return KbEditor(kb)


def test_lists_only_plain_markdown_files(editor):
    assert editor.files() == ["swing.md"]
    assert editor.read("swing.md") == SWING


@pytest.mark.parametrize(
    "name",
    ["../outside.md", "/etc/passwd", "..", ".hidden.md", "notes.txt", "sub/swing.md", "swing.md/..", "", "link.md"],
)
def test_names_outside_kb_are_refused(editor, name):
    with pytest.raises(KnowledgeBaseError, match="not an allowed|outside the knowledge-base"):
        editor.read(name)
    with pytest.raises(KnowledgeBaseError):
        editor.save(name, SWING.replace("Swing", "Evil"))
    assert not (editor.kb_dir.parent / "evil.md").exists()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# no front matter\n\n## What it is\n\ntext\n", "no front matter"),
        ("---\nlabel: Surfing\n", "not closed"),
        ("---\naliases: [x]\n---\n## What it is\n\ntext\n", "needs 'label"),
        ("---\nlabel: Surfing\n---\n", "no text"),
        (SWING, "already described in swing.md"),
    ],
)
def test_invalid_files_are_not_written(editor, text, reason):
    with pytest.raises(KnowledgeBaseError, match=reason):
        editor.save("surfing.md", text)
    assert not (editor.kb_dir / "surfing.md").exists()


def test_save_syncs_the_new_text_at_once(editor):
    edited = SWING.replace("moving back and forth", "moving back and forth above a sandpit of purple gravel")
    report = editor.save("swing.md", edited)
    assert (report.updated, report.added, report.deleted) == (1, 0, 0)
    assert editor.read("swing.md") == edited
    best = editor.kb.search("purple gravel sandpit", k=1)[0]
    assert (best.file, best.section) == ("swing.md", "What it is")
    assert "purple gravel" in best.text
    assert not editor.kb.changed_since_sync()
    assert not list(editor.kb_dir.glob(".swing.md.*.tmp"))


def test_create_from_template_then_delete(editor):
    assert file_name_for("RopeClimbing") == "rope_climbing.md"
    name = editor.create("RopeClimbing")
    assert name == "rope_climbing.md"
    text = editor.read(name)
    assert text.startswith("---\nlabel: RopeClimbing\n") and "## How it looks on video" in text
    assert editor.kb.entries()["RopeClimbing"].file == name
    with pytest.raises(KnowledgeBaseError, match="already exists"):
        editor.create("RopeClimbing")
    with pytest.raises(KnowledgeBaseError, match="not a usable label"):
        editor.create("../Evil")

    report = editor.delete(name)
    assert report.deleted == 3  # the template's three sections
    assert "RopeClimbing" not in editor.kb.entries()
    assert name not in editor.files()
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        editor.delete(name)
