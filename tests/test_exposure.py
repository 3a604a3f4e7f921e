"""Serving beyond loopback needs --auth or an explicit --no-auth; setup reads only folders under the
source roots, whatever path a visitor types into the running app."""

import os

import pytest
from gradio_client import Client

import assistant.app as app_module
from core.errors import AssistantError
from core.settings import Settings
from testkit.app_harness import running_app


def test_serving_the_network_without_a_password_is_refused_in_one_line(tmp_path, capsys):
    options = ["--data-dir", str(tmp_path / "var"), "--kb-dir", str(tmp_path / "kb")]
    with pytest.raises(AssistantError) as refused:
        app_module.main(["--host", "0.0.0.0", *options])
    message = str(refused.value)
    assert "\n" not in message and message.startswith("--host 0.0.0.0 without --auth lets anyone")
    for reachable in ("upload clips", "edit the knowledge base", f"run setup from {tmp_path / 'var'}"):
        assert reachable in message
    assert message.endswith("Add --auth user:password, or --no-auth to accept that.")
    # As the command prints it: one line on stderr, exit status 1, nothing started.
    assert app_module.run_cli(app_module.main, ["--host", "192.168.1.20", *options]) == 1
    printed = capsys.readouterr().err.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("error: --host 192.168.1.20 without --auth")


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory):
    """The app on an empty data directory (nothing built): setup's path check is what is under test."""
    root = tmp_path_factory.mktemp("exposed")
    (root / "kb").mkdir()
    (root / "var" / "my_clips").mkdir(parents=True)
    (root / "secret").mkdir()
    (root / "secret" / "Diving").mkdir()
    os.symlink(root / "secret", root / "var" / "link_out")
    settings = Settings(data_dir=root / "var", kb_dir=root / "kb", llm_provider="offline")
    with running_app(settings) as url:
        yield Client(url, verbose=False), root


@pytest.mark.parametrize(
    "typed",
    [
        "/etc",
        "../secret",
        "my_clips/../../secret",
        "{root}/var/../secret",
        "link_out",  # a symlink inside the data directory that points out of it
        "{root}/var/link_out/Diving",
        "~",
    ],
)
def test_setup_refuses_folders_outside_the_source_roots(bare_app, typed):
    client, root = bare_app
    result, _, _ = client.predict(typed.format(root=root), 1, api_name="/setup")
    assert result.startswith("⚠️ ") and "is outside the folders this app may read" in result
    assert f"({root / 'var'})" in result and "ACTIVITY_SOURCE_ROOTS" in result


def test_setup_reads_folders_inside_the_data_directory(bare_app):
    client, root = bare_app
    result, _, _ = client.predict("my_clips", 1, api_name="/setup")  # allowed, and empty: the dataset check answers
    assert result.startswith("⚠️ ") and "outside the folders" not in result
    result, _, _ = client.predict("https://example.org/..", 1, api_name="/setup")
    assert result.startswith("⚠️ ") and "does not name an archive file" in result


def test_configured_source_roots_replace_the_data_directory(tmp_path, monkeypatch):
    from assistant.jobs.source_roots import confined_source
    from core.errors import DatasetError

    (tmp_path / "datasets" / "ucf").mkdir(parents=True)
    monkeypatch.setenv("ACTIVITY_SOURCE_ROOTS", f'["{tmp_path / "datasets"}"]')
    settings = Settings(data_dir=tmp_path / "var")
    assert confined_source(str(tmp_path / "datasets" / "ucf"), settings) == str(tmp_path / "datasets" / "ucf")
    with pytest.raises(DatasetError, match="outside the folders"):
        confined_source(str(tmp_path / "var"), settings)
