"""The app as a long-running server (issue 28): 60 Gradio API sessions that never close must not grow its memory
without bound, and when it is stopped (SIGTERM, as `kill` does) it leaves nothing in the temp folder.

Runs `python app.py` in a subprocess with untrained tiny models (VSL_RANDOM_WEIGHTS=1) and a state lifetime of
2 s, talking to it with gradio_client as a script would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_browser import _free_port

ROOT = Path(__file__).resolve().parents[1]
WARM_UP, SESSIONS = 20, 40     # the warm-up fills the session capacity and the allocator's arenas
MAX_GROWTH_MB = 50             # measured: -8 MB; before the fix +220 MB (the photo of every session kept for good)


def _rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def _wait_until_served(url: str, app: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            assert app.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(1)


def test_the_app_starts_on_a_machine_too_busy_to_answer_its_first_request_at_once(tmp_path):
    """Gradio checks that the page answers within 3 s of starting and otherwise stops the app, asking for a share
    link; with a training run on every core the first page took longer. The check is made to fail here (as a busy
    machine made it fail), and the app must start and serve anyway."""
    port = _free_port()
    start = ("import runpy, gradio.networking as n; n.url_ok = lambda url: False; "
             "runpy.run_path('app.py', run_name='__main__')")
    env = dict(os.environ, VSL_RANDOM_WEIGHTS="1", PYTHONUNBUFFERED="1")
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen([sys.executable, "-c", start, "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        _wait_until_served(f"http://127.0.0.1:{port}/", app, tmp_path / "app.log")
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=60)
        log.close()
    assert "Traceback" not in (tmp_path / "app.log").read_text()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc (Linux)")
def test_sixty_api_sessions_keep_memory_bounded_and_a_stopped_app_leaves_no_files(tmp_path):
    client = pytest.importorskip("gradio_client")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
    env.update(VSL_RANDOM_WEIGHTS="1", VSL_STATE_TTL_S="2", TMPDIR=str(temp), PYTHONUNBUFFERED="1")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        _wait_until_served(url, app, tmp_path / "app.log")
        photo = tmp_path / "photo.jpg"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)).save(photo)

        def session() -> None:   # a new client is a new session; the photo goes into that session's state
            c = client.Client(url, verbose=False)
            c.predict(client.handle_file(str(photo)), api_name="/read_photo")
            c.predict(12.0, 0, True, api_name="/render_frame")
            c.predict(8, 0, True, api_name="/render_day_cycle")

        for _ in range(WARM_UP):
            session()
        time.sleep(4)           # the states expire (2 s) and Gradio's sweep (every second) drops them
        before = _rss_mb(app.pid)
        for _ in range(SESSIONS):
            session()
        time.sleep(4)
        growth = _rss_mb(app.pid) - before
        assert growth < MAX_GROWTH_MB, f"{SESSIONS} sessions grew the app by {growth:.0f} MB"
        assert any(temp.iterdir())                           # it did make files (cache, outputs) ...
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=60)
        except subprocess.TimeoutExpired:
            app.kill()
            raise
        log.close()
    left = [str(p.relative_to(temp)) for p in temp.rglob("*")]
    assert not left, f"left in the temp folder after the app stopped: {left[:10]}"         # ... and removed them
