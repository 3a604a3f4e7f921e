"""Which server-side folders the app may read a dataset from: those under ``ACTIVITY_SOURCE_ROOTS``.

The Library tab's setup takes a folder path typed by whoever opens the page. On a server that
is anyone on the network, so the path must not open the rest of the machine (``/etc``,
``../../home``, a symlink inside the data directory that points out of it): the folder is
resolved (``..`` and symlinks followed) and must lie inside one of the configured roots, by
default the data directory alone. URLs and dataset names download into the data directory,
under a name made from the archive's file name, which must be a plain name. The CLI is not
confined: whoever runs it can read those folders anyway.
"""

from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from core.errors import DatasetError
from core.settings import Settings
from training.data.download.source import is_remote, is_url


def _roots_text(settings: Settings) -> str:
    return ", ".join(str(root) for root in settings.readable_source_roots)


def confined_source(source: str, settings: Settings) -> str:
    """``source`` when the app may read it; raises ``DatasetError`` naming the allowed folders otherwise."""
    if is_remote(source):
        name = PurePosixPath(unquote(urlsplit(source).path)).name if is_url(source) else source
        if name in ("", ".", ".."):
            raise DatasetError(f"{source!r} does not name an archive file; give the URL of a zip / tar / rar.")
        return source
    folder = Path(source).expanduser()
    if not folder.is_absolute():
        folder = settings.data_dir / folder  # relative to the data directory, never to the server's working folder
    resolved = folder.resolve()
    for root in settings.readable_source_roots:
        if resolved.is_relative_to(root.resolve()):
            return str(resolved)
    raise DatasetError(
        f"{source!r} is outside the folders this app may read ({_roots_text(settings)}). Put the dataset there, "
        "or add its folder to ACTIVITY_SOURCE_ROOTS (a JSON list) when starting the app."
    )
