"""The inbetweening tab in a real browser: pick an example pair, generate samples, see the looping GIFs beside the
references, move the frame scrubber, resample, and upload a broken keyframe.

Reuses the server fixture and Chromium settings of tests/test_browser.py (skipped without /usr/bin/chromium,
except under CI=true). Always the untrained tiny model (fast; the shipped weights may be training meanwhile).
Screenshots go to VSL_SCREENSHOT_DIR if set, else to pytest's tmp_path.
"""

from __future__ import annotations

import numpy as np
from test_browser import _pixels, app_url, browser_page  # noqa: F401  (app_url is a fixture)


def test_example_generate_scrub_resample_and_bad_upload(random_weights, app_url, tmp_path):  # noqa: F811
    """random_weights (conftest) comes before app_url, which starts the app."""
    from playwright.sync_api import expect

    bad = tmp_path / "end.png"
    bad.write_text("this is a text file with a .png name")
    with browser_page(app_url, tmp_path) as (page, shots):
        page.get_by_role("tab", name="Inbetweening").click()
        info, readout = page.locator("#ib-info"), page.locator("#ib-readout")
        expect(info).to_contain_text("KTH-like walking")  # loaded on page load
        expect(page.locator("#ib-weights")).to_contain_text("Untrained weights")
        expect(page.locator("#ib-seen img")).to_be_visible()

        # One click on an example pair loads both keyframes (thumbnail 3: the BAIR-like pushing clip).
        page.locator("#ib-examples button.thumbnail-item").nth(2).click()
        expect(info).to_contain_text("BAIR-like pushing")
        for box in ("#ib-start", "#ib-end"):
            expect(page.locator(f"{box} img")).to_be_visible()

        # Three samples: the GIF gallery, the references beside it, the scrubber's mosaic, the downloads.
        count = page.locator("#ib-count input[type=number]")
        count.fill("3")
        count.press("Enter")
        page.locator("#ib-generate").click()
        expect(readout).to_contain_text("3 samples")
        expect(readout).to_contain_text("seeds 0-2")
        samples, references = page.locator("#ib-samples img"), page.locator("#ib-references img")
        expect(samples).to_have_count(3)
        expect(references).to_have_count(3)                                     # blend, flow, the true clip
        assert all(".gif" in (img.get_attribute("src") or "") for img in samples.all())
        expect(page.locator("#ib-references")).to_contain_text("linear blending")
        expect(page.locator("#ib-files")).to_contain_text(".mp4")
        expect(page.locator("#ib-files")).to_contain_text(".gif")
        frame = page.locator("#ib-frame img")
        expect(frame).to_be_visible()
        frame.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "inbetween_generated.png"), full_page=True)

        # The scrubber: frame t of every clip changes as t moves.
        src_before, pixels_before = frame.get_attribute("src"), _pixels(frame.screenshot())
        page.locator("#ib-t input[type=range]").press("ArrowLeft")
        expect(frame).not_to_have_attribute("src", src_before)
        pixels_after = _pixels(frame.screenshot())
        assert pixels_after.shape != pixels_before.shape or np.abs(pixels_after - pixels_before).max() > 0, \
            "the mosaic did not change when t moved"
        page.screenshot(path=str(shots / "inbetween_scrubbed.png"), full_page=True)

        # Resample: a new seed, generated again.
        page.locator("#ib-resample").click()
        expect(readout).not_to_contain_text("seeds 0-2")
        expect(readout).to_contain_text("3 samples")

        # A broken end frame: a readable message, and the keyframes in use stay.
        page.locator("#ib-end input[type=file]").set_input_files(str(bad))
        expect(page.get_by_text("is not an image this app can read").first).to_be_visible()
        expect(info).to_contain_text("BAIR-like pushing")
        page.screenshot(path=str(shots / "inbetween_bad_upload.png"), full_page=True)
