"""A tiny OpenCLIP architecture for tests: the real open_clip model code, random weights, milliseconds.

Registered with open_clip like any built-in config (a JSON file), so every product path that
takes a model name (``clip:Tiny-CLIP-test:random``) works with it. The vocabulary size is
fixed by the tokenizer; everything else is shrunk (32-d embeddings, 32 px images, 2 layers).
"""

import json
from pathlib import Path

import numpy as np

from indexing.kb.knowledge_base import KbEntry

TINY_CLIP = "Tiny-CLIP-test"
TINY_ENCODER = f"clip:{TINY_CLIP}:random"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def register_tiny_clip(folder: Path) -> str:
    import open_clip

    path = Path(folder) / f"{TINY_CLIP}.json"
    path.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    open_clip.add_model_config(path)
    return TINY_CLIP


def write_kb_file(kb_dir: Path, label: str, aliases: list[str], text: str = "What it looks like.") -> Path:
    kb_dir.mkdir(parents=True, exist_ok=True)
    path = kb_dir / f"{label.lower()}.md"
    path.write_text(f"---\nlabel: {label}\naliases: {json.dumps(aliases)}\n---\n# {label}\n\n## What it is\n\n{text}\n")
    return path


def kb_entries(kb_dir: Path) -> dict[str, KbEntry]:
    """label -> entry from the files' front matter (what ``KnowledgeBase.entries`` returns after a sync)."""
    from indexing.kb.front_matter import split_front_matter

    entries = {}
    for path in sorted(kb_dir.glob("*.md")):
        front, _ = split_front_matter(path.read_text(encoding="utf-8"))
        entries[front.label] = KbEntry(front.label, front.aliases, front.confused_with, path.name)
    return entries


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
