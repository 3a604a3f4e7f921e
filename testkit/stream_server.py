"""A live MPEG-TS stream served over HTTP on loopback by imageio-ffmpeg's own ffmpeg, like an IP camera.

``-re`` sends frames at the clip's own rate and ``-stream_loop -1`` repeats it forever, so a
reader sees a camera that never ends; ``-listen 1`` makes ffmpeg the HTTP server (one client).
Killing the process is a camera dropping off the network; starting another on the same port is
the camera coming back.
"""

import subprocess
import time
from pathlib import Path

import imageio_ffmpeg

from testkit.loopback import free_port

START_TIMEOUT_S = 30


def serve_stream(clip: Path, port: int | None = None, *, loop: bool = True) -> tuple[subprocess.Popen, str]:
    """(ffmpeg process, its URL), returned once the port accepts connections."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/live.ts"
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-re",
        *(["-stream_loop", "-1"] if loop else []), "-i", str(clip),
        "-c:v", "mpeg4", "-q:v", "3", "-f", "mpegts", "-listen", "1", url,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ffmpeg exited ({process.returncode}) before serving {url}")
        if serving(port):
            return process, url
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"ffmpeg did not listen on {url}")


def serving(port: int) -> bool:
    """Whether a socket listens on ``port`` or has accepted a client there, read from the kernel's table:
    connecting would take ffmpeg's one client, and binding to test the port would race ffmpeg's own bind.
    A reader already retrying (a reconnecting live engine) can take the one client within milliseconds of
    the listen, after which ffmpeg closes its listening socket: the accepted connection counts too."""
    wanted = f":{port:04X}"
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(wanted) and fields[3] in ("0A", "01"):  # LISTEN, ESTABLISHED
                return True
    return False
