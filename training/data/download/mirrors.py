"""The first of several URLs for the same data that works, saying so when one fails.

Why: the official UCF101 server is often down or slow; copies elsewhere (the THUMOS'14 zip)
hold the same videos. Only a failure of one source (``DownloadError``) moves on to the next;
a full disk or a bad destination would fail the same way everywhere, so it stops at once.
"""

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.errors import DatasetError, DownloadError
from core.settings import Settings
from training.data.download.http_fetch import FetchPolicy, fetch

log = logging.getLogger(__name__)


def local_name(url: str) -> Path:
    """``<host>/<file name>``: two mirrors of one file name on two hosts never share a partial download."""
    parts = urlsplit(url)
    name = Path(unquote(parts.path)).name or "download"
    host = (parts.netloc or "local").replace(":", "_")
    return Path(host) / name


def fetch_first(
    urls: Sequence[str], folder: Path, settings: Settings, accept: Callable[[Path], object] | None = None
) -> tuple[str, Path]:
    """(url, file) of the first URL in ``urls`` that downloads completely and passes its checks.

    ``accept`` raises DatasetError for a file that is not what was asked for (an HTML error page
    served with status 200, as busy university servers do): that file is deleted and the next
    URL is tried, instead of the bad file being kept under the final name and failing every run."""
    if not urls:
        raise DownloadError("no download URL configured; set the ACTIVITY_..._URLS setting.")
    policy = FetchPolicy.from_settings(settings)
    failures = []
    for position, url in enumerate(urls):
        try:
            path = fetch(url, folder / local_name(url), policy, settings.download_sha256.get(url))
            if accept is not None:
                _accept_or_delete(url, path, accept)
            return url, path
        except DownloadError as error:
            failures.append(str(error))
            if position + 1 < len(urls):
                log.warning("%s; trying the next mirror: %s", error, urls[position + 1])
    raise DownloadError(
        "every source failed:\n  " + "\n  ".join(failures) + "\nCheck the network connection and run the command "
        "again (finished bytes are kept), or download the archive by hand and pass its folder."
    )


def _accept_or_delete(url: str, path: Path, accept: Callable[[Path], object]) -> None:
    try:
        accept(path)
    except DatasetError as error:
        path.unlink()
        raise DownloadError(f"{url}: the server sent something else ({error})") from error
