"""Video Synthesis Lab: an interactive demo of video-synthesis GANs, one tab per model.

    python app.py                      # http://127.0.0.1:7860, this machine only
    python app.py --host 0.0.0.0 --port 8000
    VSL_RANDOM_WEIGHTS=1 python app.py # untrained tiny models: try the interface before training

`import app` builds `app.demo` without loading any model: each tab loads its model on first use (then cached).
"""

from __future__ import annotations

import argparse

import gradio as gr

from demo_lib.ui import inbetween_tab, munit_video_tab, timelapse_tab, vid2vid_tab

MAX_UPLOAD = "25mb"

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

with gr.Blocks(title="Video Synthesis Lab", analytics_enabled=False) as demo:
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
demo.queue(default_concurrency_limit=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = parser.parse_args()
    print(f"Video Synthesis Lab on http://{args.host}:{args.port}", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_UPLOAD,
                show_error=True)


if __name__ == "__main__":
    main()
