"""The Explain control in the running app: its named endpoint over gradio_client, and a click in a browser."""

from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from testkit.app_harness import private_copy, running_app
from tests.test_app_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def app_url(assistant_settings, tmp_path_factory):
    with running_app(private_copy(assistant_settings, tmp_path_factory.mktemp("explain_app"))) as url:
        yield url


def test_the_explain_endpoint_returns_overlays_a_curve_and_a_summary(app_url, query_clips):
    frames, curve, summary = Client(app_url, verbose=False).predict(
        handle_file(str(query_clips["Slide"])), "Slide", api_name="/explain"
    )
    assert 2 <= len(frames) <= 4
    for item in frames:
        assert Path(item["image"]).is_file() and item["caption"].split(" s · ")[0].replace(".", "").isdigit()
    times = [row[0] for row in curve["data"]]
    importance = [row[1] for row in curve["data"]]
    assert times == sorted(times) and max(importance) == pytest.approx(1.0) and min(importance) >= 0
    assert summary.startswith("**Slide**") and "Grad-CAM x input gradient (3D" in summary and "`cnn3d`" in summary


def test_the_endpoint_refuses_an_unknown_class_readably(app_url, query_clips):
    frames, _, summary = Client(app_url, verbose=False).predict(
        handle_file(str(query_clips["Slide"])), "Surfing", api_name="/explain"
    )
    assert frames == [] and "has no class 'Surfing'" in summary


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (`make test` installs it)")
def test_clicking_explain_under_the_answer_shows_heat_maps_and_the_chat_refers_to_them(app_url, query_clips):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(app_url)
            page.locator("#clip input[type=file]").set_input_files(str(query_clips["Fall"]))
            expect(page.locator("#clip video")).to_have_count(1, timeout=30_000)
            page.locator("#ask").click()
            chat = page.locator("#chat")
            expect(chat).to_contain_text("Sources:", timeout=60_000)

            page.locator("#explain").get_by_text("Explain: what did the classifier look at?").click()
            expect(page.locator("#explain-label input")).to_have_value("Fall", timeout=10_000)
            page.locator("#explain-button").click()
            expect(page.locator("#explain-frames img").first).to_be_visible(timeout=60_000)
            assert page.locator("#explain-frames img").count() >= 2
            expect(page.locator("#explain-summary")).to_contain_text("Grad-CAM")
            page.screenshot(path=str(ARTIFACTS / "app_explain.png"), full_page=True)

            page.locator("#question").locator("textarea").fill("What did you look at?")
            page.locator("#ask").click()
            expect(chat).to_contain_text("For Fall, the classifier", timeout=60_000)
        finally:
            browser.close()
    assert (ARTIFACTS / "app_explain.png").stat().st_size > 20_000
