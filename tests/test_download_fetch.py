"""Resumable downloads and mirrors against a loopback server: bytes, requests and checksums counted."""

import hashlib
import logging
import shutil
import time
from collections import namedtuple

import numpy as np
import pytest

from core.errors import DatasetError, DownloadError
from core.settings import Settings
from testkit.download_server import FileServer, closed_port_url, silent_server
from training.data.download.http_fetch import FetchPolicy, fetch, partial_path
from training.data.download.mirrors import fetch_first, local_name

DATA = np.random.default_rng(0).integers(0, 256, 3_000_000, dtype=np.uint8).tobytes()
SHA256 = hashlib.sha256(DATA).hexdigest()
FAST = FetchPolicy(connect_timeout_s=1.0, read_timeout_s=1.0, retries=2)


@pytest.fixture
def server():
    with FileServer({"/data.bin": DATA}) as running:
        yield running


def test_plain_download_is_complete_and_leaves_no_partial_file(server, tmp_path):
    dest = fetch(server.url("/data.bin"), tmp_path / "data.bin", FAST, sha256=SHA256)
    assert dest.read_bytes() == DATA
    assert not partial_path(dest).exists()
    assert server.requests == [("/data.bin", None)] and server.body_bytes["/data.bin"] == len(DATA)


def test_server_dying_mid_file_is_resumed_with_a_range_request(server, tmp_path):
    server.cut_after["/data.bin"] += [1_000_000, 700_000]  # dies twice
    dest = fetch(server.url("/data.bin"), tmp_path / "data.bin", FAST, sha256=SHA256)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == SHA256
    assert server.requests == [("/data.bin", None), ("/data.bin", "bytes=1000000-"), ("/data.bin", "bytes=1700000-")]
    assert server.body_bytes["/data.bin"] == len(DATA)  # nothing was sent twice


def test_a_later_run_resumes_the_partial_file_of_an_interrupted_one(server, tmp_path):
    dest = tmp_path / "data.bin"
    partial_path(dest).write_bytes(DATA[:1_234_567])
    fetch(server.url("/data.bin"), dest, FAST)
    assert dest.read_bytes() == DATA
    assert server.requests == [("/data.bin", "bytes=1234567-")]
    assert server.body_bytes["/data.bin"] == len(DATA) - 1_234_567


def test_a_server_that_ignores_ranges_makes_it_start_over_correctly(server, tmp_path):
    dest = tmp_path / "data.bin"
    partial_path(dest).write_bytes(b"x" * 5000)  # garbage that must not stay in front
    server.ignore_range.add("/data.bin")
    assert fetch(server.url("/data.bin"), dest, FAST).read_bytes() == DATA


def test_wrong_checksum_is_a_clear_error_that_keeps_the_partial_file(server, tmp_path):
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match="SHA-256 mismatch") as caught:
        fetch(server.url("/data.bin"), dest, FAST, sha256="0" * 64)
    assert "delete it to download it again" in str(caught.value)
    assert not dest.exists() and partial_path(dest).stat().st_size == len(DATA)
    # with the right checksum the kept bytes are used as they are: the server sends nothing more
    fetch(server.url("/data.bin"), dest, FAST, sha256=SHA256)
    assert dest.read_bytes() == DATA
    assert server.requests[-1] == ("/data.bin", f"bytes={len(DATA)}-") and server.body_bytes["/data.bin"] == len(DATA)


def test_http_errors_and_unreachable_servers_fail_at_once(server, tmp_path):
    server.status["/data.bin"] = 503
    with pytest.raises(DownloadError, match="HTTP 503"):
        fetch(server.url("/data.bin"), tmp_path / "a.bin", FAST)
    started = time.perf_counter()
    with pytest.raises(DownloadError, match="server is down or this machine is offline"):
        fetch(closed_port_url(), tmp_path / "b.bin", FAST)
    with silent_server() as url, pytest.raises(DownloadError, match="stopped answering"):
        fetch(url, tmp_path / "c.bin", FAST)
    # no retries for a source that never sent a byte: one read timeout (1 s) in all, not retries x timeout
    assert time.perf_counter() - started < 2.5
    assert not list(tmp_path.glob("*.bin"))


def test_not_enough_disk_space_is_a_clear_error_before_writing(server, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DatasetError, match="not enough disk space") as caught:
        fetch(server.url("/data.bin"), tmp_path / "data.bin", FAST)
    assert not isinstance(caught.value, DownloadError)  # the next mirror would not fit either
    assert not partial_path(tmp_path / "data.bin").exists()


def test_mirrors_fall_over_in_order_with_a_message(server, tmp_path, caplog):
    server.status["/down.bin"] = 404
    urls = [closed_port_url("first.bin"), server.url("/down.bin"), server.url("/data.bin")]
    settings = Settings(data_dir=tmp_path, download_connect_timeout_s=1, download_sha256={urls[2]: SHA256})
    with caplog.at_level(logging.WARNING):
        url, path = fetch_first(urls, tmp_path / "downloads", settings)
    assert url == urls[2] and path.read_bytes() == DATA
    assert path == tmp_path / "downloads" / local_name(urls[2])
    notes = [m for m in caplog.messages if "trying the next mirror" in m]
    assert len(notes) == 2
    assert notes[0].startswith(urls[0]) and "offline" in notes[0] and notes[0].endswith(urls[1])
    assert notes[1].startswith(urls[1]) and "HTTP 404" in notes[1] and notes[1].endswith(urls[2])


def test_when_every_mirror_fails_the_error_lists_each(server, tmp_path):
    server.status["/data.bin"] = 500
    urls = [closed_port_url("a.rar"), server.url("/data.bin")]
    with pytest.raises(DownloadError) as caught:
        fetch_first(urls, tmp_path, Settings(data_dir=tmp_path, download_connect_timeout_s=1))
    message = str(caught.value)
    assert all(url in message for url in urls) and "HTTP 500" in message and "run the command again" in message
