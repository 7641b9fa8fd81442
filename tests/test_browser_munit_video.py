"""The photo-to-painting video tab in a real browser: pick an example, translate it beside the λ_t = 0 model, read
the flicker table, resample the style, upload an image and a broken video.

Reuses the server fixture and Chromium settings of tests/test_browser.py (skipped without /usr/bin/chromium,
except under CI=true). Always the untrained tiny models (fast; the shipped weights may be training meanwhile).
Screenshots go to VSL_SCREENSHOT_DIR if set, else to pytest's tmp_path.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image
from test_browser import app_url, browser_page  # noqa: F401  (app_url is a fixture)

FLOAT = r"\d+\.\d{4}"


def test_example_translate_resample_and_uploads(random_weights, app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    bad = tmp_path / "holiday.mp4"
    bad.write_text("this is a text file with an .mp4 name")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(photo)
    with browser_page(app_url, tmp_path) as (page, shots):
        page.get_by_role("tab", name="Photo to painting video").click()
        info, readout = page.locator("#mv-info"), page.locator("#mv-readout")
        expect(info).to_contain_text("grace_hopper.jpg")  # loaded on page load
        expect(page.locator("#mv-weights")).to_contain_text("Untrained weights")

        # One click on an example loads it and shows it as the model sees it.
        page.locator("#mv-examples button.thumbnail-item").nth(1).click()
        expect(info).to_contain_text("astronaut.png (a training photo)")
        expect(info).to_contain_text("24 frames")
        expect(page.locator("#mv-input video")).to_have_count(1)

        # Translate (the λ_t = 0 comparison is on by default): both players, downloads, the flicker table.
        expect(page.locator("#mv-compare input")).to_be_checked()
        page.locator("#mv-translate").click()
        expect(readout).to_contain_text("rendered 24 frames")
        for row in ("input video (reference)", "temporal model", "λ_t = 0 model"):
            expect(readout.locator("tr", has_text=row)).to_contain_text(re.compile(FLOAT))
        for elem in ("#mv-output", "#mv-output-t0"):
            expect(page.locator(f"{elem} video")).to_have_count(1)
        expect(page.locator("#mv-files")).to_contain_text(".mp4")
        expect(readout).to_contain_text("style seed 0,")
        page.locator("#mv-output").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "munit_video_translated.png"), full_page=True)

        # Resample style: a new seed, translated again.
        page.locator("#mv-resample").click()
        expect(readout).not_to_contain_text("style seed 0,")
        expect(readout).to_contain_text("rendered 24 frames")

        # An image is one frame: no flicker to measure.
        page.locator("#mv-image-upload input[type=file]").set_input_files(str(photo))
        expect(info).to_contain_text("a single image")
        page.locator("#mv-translate").click()
        expect(readout).to_contain_text("n/a for a single image")
        page.screenshot(path=str(shots / "munit_video_image.png"), full_page=True)

        # A broken video: a readable message, and the input in use stays.
        page.locator("#mv-video-upload input[type=file]").set_input_files(str(bad))
        expect(page.get_by_text("could not be decoded as a video").first).to_be_visible()
        expect(info).to_contain_text("photo.png")
        page.screenshot(path=str(shots / "munit_video_bad_upload.png"), full_page=True)
