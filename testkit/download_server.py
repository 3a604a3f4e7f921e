"""A loopback HTTP file server for download tests: Range requests, injected failures, a request log.

Only 127.0.0.1, in a thread of the test process; it stops when the ``with`` block ends.
"""

import re
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FileServer:
    """Serves ``files`` (URL path -> bytes). ``cut_after[path]`` is a queue: the next request for that path
    sends only that many body bytes and then drops the connection, as a server dying mid-file does."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.cut_after: dict[str, list[int]] = defaultdict(list)
        self.status: dict[str, int] = {}  # answer this HTTP status instead of the file
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.body_bytes: dict[str, int] = defaultdict(int)  # body bytes actually sent per path
        self._server: ThreadingHTTPServer | None = None

    def add_file(self, path: Path, url_path: str | None = None) -> str:
        url_path = url_path or f"/{path.name}"
        self.files[url_path] = path.read_bytes()
        return self.url(url_path)

    def url(self, url_path: str) -> str:
        assert self._server is not None, "use the server inside its with block"
        return f"http://127.0.0.1:{self._server.server_address[1]}{url_path}"

    def __enter__(self) -> "FileServer":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            path, wanted = self.path, self.headers.get("Range")
            state.requests.append((path, wanted))
            if path in state.status:
                self.send_error(state.status[path])
                return
            if path not in state.files:
                self.send_error(404)
                return
            data = state.files[path]
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", wanted or "")
            if match and path not in state.ignore_range:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = data[start:]
            if state.cut_after[path]:
                body = body[: state.cut_after[path].pop(0)]
                self.close_connection = True
            # Counted before writing: the client may have read the last byte (and the test asserted
            # on the count) before this thread runs again after the write.
            state.body_bytes[path] += len(body)
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a test of that)
                return

    return Handler


@contextmanager
def silent_server() -> Iterator[str]:
    """A URL whose server accepts the connection and never answers (a stalled mirror)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/stalled.zip"


def closed_port_url(name: str = "gone.zip") -> str:
    """A URL on a loopback port nothing listens on: connection refused, as for a server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"
