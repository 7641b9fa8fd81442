"""The vid2vid tab in a real browser: pick an example, paint on the key frame, synthesize, upload a broken file.

Reuses the server fixture and Chromium settings of tests/test_browser.py (skipped without /usr/bin/chromium,
except under CI=true). Screenshots go to VSL_SCREENSHOT_DIR if set, else to pytest's tmp_path.
"""

from __future__ import annotations

import pytest
from test_browser import app_url, browser_page  # noqa: F401  (app_url is a fixture)

from demo_lib import registry


@pytest.fixture
def v2v_weights(monkeypatch):
    """Untrained tiny models unless vid2vid and the segmenter both have shipped weights (set before app_url)."""
    if not (registry.weights_path("vid2vid").is_file() and registry.weights_path("street_segmenter").is_file()):
        monkeypatch.setenv("VSL_RANDOM_WEIGHTS", "1")


def test_example_paint_synthesize_and_bad_upload(v2v_weights, app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    bad = tmp_path / "street.mp4"
    bad.write_text("this is a text file with an .mp4 name")
    with browser_page(app_url, tmp_path) as (page, shots):
        page.get_by_role("tab", name="vid2vid: labels to street video").click()
        info = page.locator("#v2v-info")
        expect(info).to_contain_text("Avenue with traffic")  # loaded on page load

        # One click on an example loads it.
        page.locator("#v2v-examples button.thumbnail-item").nth(1).click()
        expect(info).to_contain_text("Narrow street")
        expect(info).to_contain_text("24 frames")

        # Paint a stroke with the default brush colour (vegetation), apply it to every frame.
        editor = page.locator("#v2v-editor")
        editor.scroll_into_view_if_needed()
        expect(editor.get_by_role("button", name="Brush", exact=True)).to_be_visible()
        box = editor.locator("canvas").first.bounding_box()
        x, y = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.3
        page.mouse.move(x, y)
        page.mouse.down()
        for i in range(1, 10):
            page.mouse.move(x + 8 * i, y + 3 * i, steps=2)
        page.mouse.up()
        page.locator("#v2v-apply").click()
        expect(page.locator("#v2v-edit-info")).to_contain_text("Applied: painted vegetation")
        expect(info).to_contain_text("edits: painted vegetation")

        # Synthesize: the three videos, the key-frame strip, the download and the timing line.
        page.locator("#v2v-synth").click()
        expect(page.locator("#v2v-synth-info")).to_contain_text("rendered 24 frames")
        for elem in ("#v2v-out-labels", "#v2v-output", "#v2v-mask"):
            expect(page.locator(f"{elem} video")).to_have_count(1)
        expect(page.locator("#v2v-file")).to_contain_text(".mp4")
        page.locator("#v2v-output").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "vid2vid_synthesized.png"), full_page=True)

        # A broken upload: a readable message, and the sequence in use stays.
        page.locator("#v2v-label-upload input[type=file]").set_input_files(str(bad))
        expect(page.get_by_text("could not be decoded as a video").first).to_be_visible()
        expect(info).to_contain_text("Narrow street")
        page.screenshot(path=str(shots / "vid2vid_bad_upload.png"), full_page=True)
