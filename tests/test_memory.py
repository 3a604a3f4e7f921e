"""Freed memory stays mapped (``core.memory``): a batch loop stops faulting in fresh pages."""

import json
import os
import subprocess
import sys

from tests.torchrun import ROOT

# Allocate and free a 64 MB tensor (above glibc's largest adaptive mmap threshold) 20 times, as
# every inference batch allocates and frees its activations, and count the page faults it costs.
PROBE = """
import json, resource, torch
from core.memory import keep_freed_memory

def faults_of_batches():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.ones(16 * 2**20).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

default = faults_of_batches()
applied = keep_freed_memory()
print(json.dumps({"default": default, "applied": applied, "kept": faults_of_batches()}))
"""


def _probe(**env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


PAGES_PER_BATCH = 64 * 2**20 // 4096


def test_kept_memory_ends_the_page_faults_of_every_batch():
    figures = _probe()
    assert figures["applied"] is True
    assert figures["default"] > 10 * PAGES_PER_BATCH  # fresh pages for (nearly) every batch
    assert figures["kept"] < 2 * PAGES_PER_BATCH  # the first batch grows the heap, the others reuse it


def test_the_setting_turns_it_off():
    figures = _probe(ACTIVITY_KEEP_FREED_MEMORY="0")
    assert figures["applied"] is False
    assert figures["kept"] > 10 * PAGES_PER_BATCH
