"""The one rule for an activity label a user types (a new KB activity, labelled example clips)."""

import re

from core.errors import AssistantError, DatasetError

LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,79}")


def checked_label(label: str | None, error: type[AssistantError] = DatasetError) -> str:
    """``label`` stripped; ``error`` when it is not letters, digits, spaces, '_' or '-' (at most 80)."""
    label = (label or "").strip()
    if not LABEL_PATTERN.fullmatch(label):
        raise error(
            f"{label!r} is not a usable label: use the activity's class name (letters, digits), e.g. RopeClimbing."
        )
    return label


# Examples of "none of these": clips of activities the user does not want named. A dataset folder
# named ``_other`` or ``_background`` and `indexing add --negative` file clips under this label;
# a user-typed label never starts with "_" (``LABEL_PATTERN``), so it cannot collide.
NEGATIVE_LABEL = "_other"
NEGATIVE_FOLDERS = ("_other", "_background")


def is_negative(label: str | None) -> bool:
    """True for the label of "none of these" examples."""
    return label is not None and label.startswith("_")
