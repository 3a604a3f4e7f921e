"""End to end in headless Chromium: open the page, upload a clip, ask, read the answer and its evidence.

Uses the Debian ``chromium`` binary (Playwright's own browser download needs the internet);
``make test`` installs it. The screenshot lands in test-artifacts/ for a person to look at.
"""

from pathlib import Path

import pytest

from testkit.app_harness import private_copy, running_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (`make test` installs it)"),
    pytest.mark.slow,  # a real browser
]


def test_upload_ask_see_the_evidence_and_follow_up(assistant_settings, query_clips, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    settings = private_copy(assistant_settings, tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app(settings) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            expect(page.get_by_role("tab", name="Knowledge base")).to_be_visible(timeout=30_000)
            page.locator("#clip input[type=file]").set_input_files(str(query_clips["Slide"]))
            expect(page.locator("#clip video")).to_have_count(1, timeout=30_000)
            page.locator("#ask").click()

            chat = page.locator("#chat")
            expect(chat).to_contain_text("Sources:", timeout=60_000)
            expect(chat).to_contain_text("Slide")
            expect(page.locator("#verdict")).to_contain_text("Slide")
            expect(page.locator("#neighbours img").first).to_be_visible(timeout=30_000)
            assert page.locator("#neighbours img").count() >= 5
            expect(page.locator("#passages")).to_contain_text("kb/slide.md")
            page.screenshot(path=str(ARTIFACTS / "app_answer.png"), full_page=True)

            # A suggested follow-up under the answer continues the same chat.
            page.get_by_role("button", name="How sure are you, and why?").click()
            expect(chat).to_contain_text("You asked: “How sure are you, and why?”", timeout=60_000)
            expect(chat).to_contain_text("recognised as Slide")
        finally:
            browser.close()
    assert (ARTIFACTS / "app_answer.png").stat().st_size > 20_000
