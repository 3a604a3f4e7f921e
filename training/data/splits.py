"""Group-aware, stratified train/val/test splits.

Clips of one UCF-style group (``_gNN_``) come from one recording; putting them in two splits
inflates accuracy with near-duplicates, so whole groups are assigned to a split.
"""

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

_GROUP = re.compile(r"_g(\d+)_c\d+", re.IGNORECASE)


@dataclass(frozen=True)
class LabelledClip:
    path: str
    label: str
    group: str


def group_of(file_name: str) -> str | None:
    """The UCF-style group number in a file name (``v_Surfing_g03_c02.avi`` -> ``"03"``)."""
    match = _GROUP.search(file_name)
    return match.group(1) if match else None


def assign_groups(clips: list[LabelledClip], fractions: dict[str, float], seed: int) -> dict[str, str]:
    """Map each clip path to a split, per label, by shuffled whole groups.

    Splits are filled in the order given, each up to its share of the label's clips, the first
    split takes what is left. Every split gets at least one group when a label has enough groups.
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for clip in clips:
        by_label[clip.label][clip.group].append(clip.path)
    first, *rest = list(fractions)
    assignment: dict[str, str] = {}
    for label in sorted(by_label):
        groups = by_label[label]
        order = sorted(groups)
        rng.shuffle(order)
        total = sum(len(paths) for paths in groups.values())
        cursor = 0
        for split in rest:
            target = fractions[split] * total
            taken = 0
            while target > 0 and cursor < len(order) - 1:
                size = len(groups[order[cursor]])
                if taken and taken + size / 2 > target:
                    break
                assignment.update(dict.fromkeys(groups[order[cursor]], split))
                taken += size
                cursor += 1
        for group in order[cursor:]:
            assignment.update(dict.fromkeys(groups[group], first))
    return assignment
