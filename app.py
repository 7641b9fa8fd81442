"""Video Synthesis Lab: an interactive demo of video-synthesis GANs, one tab per model.

    python app.py                      # http://127.0.0.1:7860, this machine only
    python app.py --host 0.0.0.0 --port 8000
    VSL_RANDOM_WEIGHTS=1 python app.py # untrained tiny models: try the interface before training

`import app` builds `app.demo` without loading any model: each tab loads its model on first use (then cached).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile

# Run as a program, the app keeps Gradio's cache (uploads, served outputs) in a folder of its own, removed when it
# stops; Gradio reads the variable when it is imported. (Set GRADIO_TEMP_DIR yourself to keep the files.)
OWN_CACHE = __name__ == "__main__" and "GRADIO_TEMP_DIR" not in os.environ
if OWN_CACHE:
    os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="vsl-gradio-")

import gradio as gr  # noqa: E402

from demo_lib.ui import common, inbetween_tab, munit_video_tab, timelapse_tab, vid2vid_tab  # noqa: E402

MAX_UPLOAD = "25mb"
QUEUE_MAX = 64                   # requests waiting at once; beyond it a client is told the queue is full
# Gradio keeps each browser or API session (its states, its copy of the page config) for an hour after it closes, and
# an API client may never close one: past this many, the least recently used session is dropped (its user picks the
# photo again). With the tabs' states expiring (common.STATE_TTL_S) memory stays bounded: 40 API sessions once grew
# the app by 220 MB (issue 28, tests/test_app_soak.py).
SESSION_CAPACITY = 16
# Every 10 minutes Gradio deletes the files it cached for the page (uploads, outputs) once they are an hour old,
# and all of them when the app stops.
DELETE_CACHE = (600, 3600)

HEADER = """\
# Video Synthesis Lab
Research demos of four video-synthesis GANs, re-implemented from their papers and trained by this project
(small models, CPU-friendly; see each tab's *About this model* for what they can and cannot do):

1. **Time-lapse from a single outdoor image**: Nam et al., CVPR 2019 (first tab).
2. **vid2vid**, semantic label maps to street video: Wang et al., NeurIPS 2018 (second tab; paint the labels, then
   re-synthesize the whole street video).
3. **Photo to painting video**, single-frame unsupervised video-to-video translation: MUNIT (Huang et al.,
   ECCV 2018) plus a temporal loss and shared normalisation statistics (third tab; translate a video or a photo,
   and compare the flicker with and without the temporal loss).
4. **Video inbetweening with direct 3D convolutions**: Li, Roblek and Tagliasacchi, 2019 (fourth tab; give a start
   and an end frame, get several possible clips between them beside linear blending and optical flow).

Everything runs on this machine; uploads stay here and are limited to 25 MB.
"""

with gr.Blocks(title="Video Synthesis Lab", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
    gr.Markdown(HEADER)
    with gr.Tab("Time-lapse from one photo", id="timelapse"):
        timelapse_tab.build(demo)
    with gr.Tab("vid2vid: labels to street video", id="vid2vid"):
        vid2vid_tab.build(demo)
    with gr.Tab("Photo to painting video", id="munit_video"):
        munit_video_tab.build(demo)
    with gr.Tab("Inbetweening", id="inbetween"):
        inbetween_tab.build(demo)

# One job at a time per event group: the machine may have 2 CPU cores. The slider's frames and the day-cycle
# renders are separate groups (see the tab), so a long render does not freeze the slider.
demo.queue(default_concurrency_limit=1, max_size=QUEUE_MAX)


def _stop(signum, frame):
    # `kill` (SIGTERM) stops the app as Ctrl-C does, so the temporary files are removed on the way out.
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    print(f"Video Synthesis Lab on http://{args.host}:{args.port}", flush=True)
    try:
        # _frontend=False skips Gradio's check that the page answers within 3 s of starting: on a busy machine (a
        # training run on every core) the first page takes longer, and the check then stopped the app with
        # "When localhost is not accessible, a shareable link must be created" (issue 28).
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_UPLOAD,
                    show_error=True, state_session_capacity=SESSION_CAPACITY, _frontend=False)
    finally:
        if OWN_CACHE:
            shutil.rmtree(os.environ["GRADIO_TEMP_DIR"], ignore_errors=True)
        else:                                   # a cache folder shared with other apps: only this app's files
            common.remove_cached_files(demo)


if __name__ == "__main__":
    main()
