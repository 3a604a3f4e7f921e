"""One URL to one local file, resumable and checked.

Dataset archives are gigabytes served by overloaded university servers that drop connections, so
the bytes go to ``<file>.part`` and every new attempt (a retry after a drop, or a later run)
asks only for the missing tail with an HTTP ``Range`` request. The file gets its final name only
after its size (as the server declared it) and, when one is configured, its SHA-256 match: a
file under the final name is always a complete one. A connection that cannot be opened at all
fails at once (short connect timeout) instead of retrying, so an offline machine gets a clear
error in seconds and the caller can try the next mirror.
"""

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from core.errors import DownloadError
from core.settings import Settings
from training.data.download.disk_space import ensure_free_space

log = logging.getLogger(__name__)
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    retries: int = 5  # consecutive attempts without new bytes before giving up on a URL

    @classmethod
    def from_settings(cls, settings: Settings) -> "FetchPolicy":
        return cls(settings.download_connect_timeout_s, settings.download_read_timeout_s, settings.download_retries)


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def fetch(url: str, dest: Path, policy: FetchPolicy = FetchPolicy(), sha256: str | None = None) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); an existing ``dest`` was checked when it was made."""
    if dest.is_file():
        log.info("%s already downloaded", dest)
        return dest
    part = partial_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    total = _download(url, part, policy)
    size = part.stat().st_size
    if total is not None and size != total:  # more than announced: resuming cannot repair that
        raise DownloadError(f"{url}: got {size} bytes, the server announced {total}; delete {part} and try again.")
    if sha256:
        _check_sha256(url, part, sha256.lower())
    part.replace(dest)
    return dest


def _download(url: str, part: Path, policy: FetchPolicy) -> int | None:
    """Grow ``part`` until the server has nothing more to send; returns the total size it announced."""
    failures = 0  # attempts in a row that added no byte
    progressed = False  # before the first byte, a failure is not worth retrying: the source is down
    with tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=part.name.removesuffix(".part"), delay=0.5) as bar:
        while True:
            have = _size(part)
            try:
                total = _one_request(url, part, have, policy, bar)
                error = None
            except (requests.RequestException, urllib3.exceptions.HTTPError) as raised:
                total, error = None, raised
            size = _size(part)
            progressed = progressed or size != have
            failures = 0 if size != have else failures + 1
            if error is None and (total is None or size >= total):
                return total
            if error is not None and not progressed:
                raise DownloadError(f"{url}: {_reason(error)}") from error
            reason = _reason(error) if error else f"connection closed at byte {size} of {total}"
            if failures > policy.retries:
                raise DownloadError(
                    f"{url}: {reason} ({failures} attempts without progress). "
                    f"The {size} bytes received are kept in {part}: run the command again to resume."
                ) from error
            log.warning("%s: %s; resuming from byte %d", url, reason, size)
            if failures:
                time.sleep(min(0.5 * 2 ** (failures - 1), 10.0))


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _one_request(url: str, part: Path, have: int, policy: FetchPolicy, bar: tqdm) -> int | None:
    """One GET from byte ``have`` on, appended to ``part``; returns the total size the server announced."""
    # identity: a transparently gzipped response would not match Content-Length or the Range offsets.
    headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={have}-"} if have else {})
    timeout = (policy.connect_timeout_s, policy.read_timeout_s)
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
        if response.status_code == 416 and have:
            total = _total_from_content_range(response.headers.get("Content-Range"))
            if total == have:  # the partial file is already complete
                return total
            if total is None:
                raise DownloadError(f"{url}: the server refuses to resume {part}; delete it to download again.")
            log.warning("%s: the partial download (%d bytes) does not fit the file; starting over", url, have)
            part.unlink()
            return total
        if response.status_code not in (200, 206):
            raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}")
        if response.status_code == 206:
            start = _start_from_content_range(response.headers.get("Content-Range"))
            if start != have:
                raise DownloadError(f"{url}: asked for bytes from {have}, the server sent from {start}")
            total = _total_from_content_range(response.headers.get("Content-Range"))
        else:
            if have:
                log.warning("%s: the server ignores range requests; starting over", url)
            have = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if total is not None:
            ensure_free_space(part.parent, total - have, f"downloading {url}")
        bar.reset(total=total)
        bar.update(have)
        with part.open("ab" if have else "wb") as handle:
            # read1: whatever has arrived, so a dropped connection loses no byte already received
            # (iter_content discards a partly filled chunk when the stream breaks).
            while chunk := response.raw.read1(CHUNK_BYTES, decode_content=False):
                handle.write(chunk)
                bar.update(len(chunk))
        return total


def _start_from_content_range(value: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/", value or "")
    return int(match.group(1)) if match else None


def _total_from_content_range(value: str | None) -> int | None:
    match = re.search(r"/(\d+)\s*$", value or "")
    return int(match.group(1)) if match else None


def _reason(error: Exception) -> str:
    if isinstance(error, requests.ConnectTimeout | urllib3.exceptions.ConnectTimeoutError):
        return "could not connect in time: the server is down or this machine is offline"
    if isinstance(error, requests.Timeout | urllib3.exceptions.ReadTimeoutError):
        return "the server stopped answering (read timed out)"
    if isinstance(error, urllib3.exceptions.ProtocolError):
        return "the connection broke mid-transfer"
    if isinstance(error, requests.ConnectionError):
        return "could not connect: the server is down or this machine is offline"
    return f"{type(error).__name__}: {error}"


def _check_sha256(url: str, part: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with (
        part.open("rb") as handle,
        tqdm(total=part.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024, desc="checksum") as bar,
    ):
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            bar.update(len(chunk))
    if digest.hexdigest() != expected:
        raise DownloadError(
            f"{url}: SHA-256 mismatch (expected {expected}, got {digest.hexdigest()}). The file is kept as {part}; "
            "delete it to download it again, or correct ACTIVITY_DOWNLOAD_SHA256 if the published file changed."
        )
