"""The YAML front matter of a knowledge-base file: which activity it describes and its aliases.

A file starts with a block between two ``---`` lines::

    ---
    label: PlayingGuitar            # the class name, as in the dataset
    aliases: [guitar, strumming]    # other words people use for it
    confused_with: [PlayingPiano]   # labels it is often mistaken for
    ---

Anything wrong raises ``KnowledgeBaseError`` with a message that says how to fix the file.
"""

from dataclasses import dataclass

import yaml

from core.errors import KnowledgeBaseError

DELIMITER = "---"


@dataclass(frozen=True)
class FrontMatter:
    label: str
    aliases: tuple[str, ...] = ()
    confused_with: tuple[str, ...] = ()


def _string_list(value: object, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str | int | float) for item in value):
        raise KnowledgeBaseError(f"front matter '{key}' must be a list of words, e.g. {key}: [a, b]")
    return tuple(str(item).strip() for item in value if str(item).strip())


def split_front_matter(text: str) -> tuple[FrontMatter, str]:
    """(front matter, markdown body) of a knowledge-base file's text."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != DELIMITER:
        raise KnowledgeBaseError("no front matter: the file must start with a '---' line, then label: <Class>")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == DELIMITER)
    except StopIteration:
        raise KnowledgeBaseError("front matter is not closed: add a '---' line after it") from None
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        raise KnowledgeBaseError(f"front matter is not valid YAML ({error})".replace("\n", " ")) from error
    if not isinstance(data, dict):
        raise KnowledgeBaseError("front matter must be 'key: value' lines (label, aliases, confused_with)")
    label = data.get("label")
    if not isinstance(label, str) or not label.strip():
        raise KnowledgeBaseError("front matter needs 'label: <ClassName>' (the dataset's class name)")
    front = FrontMatter(
        label=label.strip(),
        aliases=_string_list(data.get("aliases"), "aliases"),
        confused_with=_string_list(data.get("confused_with"), "confused_with"),
    )
    return front, "\n".join(lines[end + 1 :])
