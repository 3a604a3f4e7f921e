"""Freed memory stays mapped (``core.memory``): a batch loop stops faulting in fresh pages."""

import json
import os
import statistics
import subprocess
import sys

from testkit.torchrun import ROOT

# Allocate and free a 64 MB tensor (above glibc's largest adaptive mmap threshold) 40 times, as
# every inference batch allocates and frees its activations, and count the page faults of each.
PROBE = """
import json, resource, torch
from core.memory import keep_freed_memory

def faults_of_each_batch():
    faults = []
    for _ in range(40):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.ones(16 * 2**20).sum()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return faults

default = faults_of_each_batch()
applied = keep_freed_memory()
print(json.dumps({"default": default, "applied": applied, "kept": faults_of_each_batch()}))
"""


def _probe(**env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


PAGES_PER_BATCH = 64 * 2**20 // 4096


# Medians, not totals: where a batch's tensor lands in the heap can shift a few times while small
# allocations settle around it (seen on CI: 5 of 20 batches faulted), but the typical batch must
# reuse the pages of the one before instead of faulting in all 16,384 of them again.
def test_kept_memory_ends_the_page_faults_of_every_batch():
    figures = _probe()
    assert figures["applied"] is True
    assert statistics.median(figures["default"]) > PAGES_PER_BATCH // 2  # fresh pages for every batch
    assert statistics.median(figures["kept"]) < PAGES_PER_BATCH // 16  # the heap's pages are reused


def test_the_setting_turns_it_off():
    figures = _probe(ACTIVITY_KEEP_FREED_MEMORY="0")
    assert figures["applied"] is False
    assert statistics.median(figures["kept"]) > PAGES_PER_BATCH // 2
