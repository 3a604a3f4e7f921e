"""Start a product command the way users start it on several processes: ``torchrun -m <module> ...``.

Ranks run on a free loopback port with one OpenMP thread each (two ranks share two cores) and a
short collective timeout, so a lost rank ends a test's run in seconds.
"""

import os
import subprocess
import sys
from pathlib import Path

from testkit.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 400
COLLECTIVE_TIMEOUT_S = 15


def rank_env(**extra: str) -> dict[str, str]:
    """The test's environment without any rank variables of its own, plus ``extra``."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**inherited, "OMP_NUM_THREADS": "1", "ACTIVITY_DIST_TIMEOUT_S": str(COLLECTIVE_TIMEOUT_S), **extra}


def hand_started_rank_env(rank: int, port: str, world_size: int = 2) -> dict[str, str]:
    """What torchrun's agent would tell rank ``rank``, for ranks started by hand (as on a second node)."""
    return rank_env(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=port
    )


def torchrun(module: str, args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node N -m MODULE ARGS`` on 127.0.0.1; its output captured."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        "-m",
        module,
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, env=rank_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
