"""The /studio page in a real browser: Playwright driving Debian's chromium (scripts/install.sh dev
installs it), walking the whole flow on tiny models — project, shot with a keyframe, 3 takes from the
page, wait until they play, select one, note another, download the handoff, open its timeline.otio.

Screenshots of the board and the shot page land in the test's folder; with VIDSERVE_SCREENSHOTS set
to a folder (docs/ to refresh the README's) they are copied there too.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path

import httpx
import opentimelineio as otio
import pytest

from tests.server.conftest import API_KEY, LiveServer
from tests.studio.conftest import png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (scripts/install.sh dev)")


def test_whole_flow_in_the_browser(studio_server: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    keyframe = tmp_path / "harbour.png"
    keyframe.write_bytes(png(96, 64, (30, 90, 160)))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy="
                                                                     "no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        page.set_default_timeout(60_000)
        page.goto(f"{studio_server.url}/studio/")
        # With API keys set, the page asks for one once per browser session.
        page.fill("#key-input", API_KEY)
        page.click("#key-form button")

        page.fill("#new-project [name=name]", "Harbour film")
        page.select_option("#new-project [name=aspect_ratio]", "16:9")
        page.fill("#new-project [name=model]", "tiny-ltx-video")
        page.fill("#new-project [name=visual_bible]", "overcast, muted colours")
        page.click("#new-project button[type=submit]")

        page.fill("#new-shot [name=name]", "wide establishing")
        page.fill("#new-shot [name=description]", "the harbour at dawn, boats at anchor")
        page.fill("#new-shot [name=camera_move]", "slow push in")
        page.fill("#new-shot [name=duration]", "0.3")
        page.set_input_files("#new-shot [name=keyframe]", str(keyframe))
        page.click("#new-shot button[type=submit]")
        expect(page.locator("#board .card.shot")).to_have_count(1)
        # A second shot, planned, without a keyframe (the board shows both states).
        page.fill("#new-shot [name=name]", "close on the deck")
        page.fill("#new-shot [name=description]", "ropes and a gull, handheld")
        page.click("#new-shot button[type=submit]")
        expect(page.locator("#board .card.shot")).to_have_count(2)
        card = page.locator("#board .card.shot").first
        expect(card.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))
        board_png = tmp_path / "studio-board.png"

        card.click()
        page.fill("#n-takes", "3")
        page.click("#generate")
        takes = page.locator("#takes .take")
        expect(takes).to_have_count(3)
        # They play: every video element decoded its first frame (the page marks data-ready).
        expect(page.locator("#takes .take[data-ready=true]")).to_have_count(3, timeout=180_000)
        playing = page.evaluate("() => [...document.querySelectorAll('#takes video')].map(v => v.videoWidth)")
        assert playing == [96, 96, 96]

        second = takes.nth(1)
        second.locator("button[data-verdict=select]").click()
        expect(page.locator("#takes .take").nth(1).locator("button[data-verdict=select]")).to_have_attribute(
            "aria-pressed", "true")
        first = page.locator("#takes .take").nth(0)
        first.locator(".note").fill("the horizon tilts")
        first.locator(".add-note").click()
        expect(page.locator("#takes .take").nth(0).locator(".notes li")).to_have_text(["the horizon tilts"])
        # Keyboard: → moves to the next take, 3 rejects it.
        page.locator("h1").click()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("3")
        expect(page.locator("#takes .take").nth(2).locator(".badge.reject")).to_have_count(1)
        shot_png = tmp_path / "studio-shot.png"
        page.screenshot(path=str(shot_png), full_page=True)

        page.reload()  # from the server again (the key is kept for the session): verdicts and notes stay
        expect(page.locator("#takes .take .badge.select")).to_have_count(1)
        expect(page.locator("#takes .take").nth(0).locator(".notes li")).to_have_text(["the horizon tilts"])
        page.locator("#crumbs a").first.click()
        page.click("#crumbs a >> text=dailies")
        expect(page.locator("main section .take")).to_have_count(3)
        page.locator("#crumbs a").first.click()
        expect(page.locator("#board .card.shot .badge.approved")).to_have_count(1)
        page.screenshot(path=str(board_png), full_page=True)
        with page.expect_download() as dl:
            page.click("#build-handoff")
        zip_path = tmp_path / "handoff.zip"
        dl.value.save_as(zip_path)
        browser.close()

    with zipfile.ZipFile(zip_path) as zf:
        assert "01_wide_establishing_take2.mp4" in zf.namelist()
        timeline = otio.adapters.read_from_string(zf.read("timeline.otio").decode(), adapter_name="otio_json")
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["01_wide_establishing_take2"]
    assert timeline.name == "Harbour film"
    # The API agrees with what the page showed.
    with httpx.Client(base_url=studio_server.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        project = next(p for p in client.get("/v1/projects").json()["data"] if p["name"] == "Harbour film")
        assert project["cost"]["takes"] == 3
    for shot in (board_png, shot_png):
        assert shot.stat().st_size > 10_000
        if os.environ.get("VIDSERVE_SCREENSHOTS"):
            shutil.copy(shot, Path(os.environ["VIDSERVE_SCREENSHOTS"]) / shot.name)
