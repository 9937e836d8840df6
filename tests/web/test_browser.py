"""End to end in a real browser: headless Chromium drives the page served on 127.0.0.1, uploads a phantom
flood and a phantom gated study, and the numbers it shows equal the CLI's JSON. Skips without Chromium."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from nmkit.cli import app as cli
from nmkit.web.app import Settings, create_app

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).is_file()), None)
playwright = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (apt-get install chromium); "
                                                          ".ci/run installs it")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def server(tmp_path):
    """The app on a free loopback port, in a thread; stopped after the test."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(Settings(data_dir=tmp_path / "data")), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto(server)
        yield page
        browser.close()


def cli_json(*args) -> dict:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def shown(page, key: str) -> str:
    return page.locator(f"#numbers tr[data-key='{key}'] td.value").inner_text()


def analyse(page, path, workflow: str = "auto") -> None:
    page.set_input_files("#file", str(path) if isinstance(path, Path) else path)
    page.select_option("#workflow", workflow)
    page.click("#go")
    page.wait_for_selector("#result:not([hidden]), #error:not([hidden])", timeout=120_000)


def assert_not_blank(path: Path) -> None:
    pixels = np.asarray(PILImage.open(path).convert("L"), dtype=np.float64)
    assert pixels.std() > 10 and len(np.unique(pixels)) > 50, f"{path} looks blank"


def test_flood_and_gated_study_show_the_cli_numbers(page, server, studies, tmp_path):
    analyse(page, studies["qc"])
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    flood = cli_json("qc", "check", studies["qc"], "--json", "--out", tmp_path / "cli")
    for key in ("ufov_iu", "ufov_du", "cfov_iu", "cfov_du", "defect_probability"):
        assert float(shown(page, key)) == flood[key], key
    assert page.locator("#verdict").get_attribute("data-verdict") == flood["verdict"]
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=tmp_path / "qc.png", full_page=True)
    assert_not_blank(tmp_path / "qc.png")

    analyse(page, studies["gbp"])
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    gated = cli_json("gbp", "ef", studies["gbp"], "--json", "--out", tmp_path / "cli")
    for key in ("ef", "ed_frame", "es_frame", "background_per_pixel"):
        assert float(shown(page, key)) == gated[key], key
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=tmp_path / "gbp.png", full_page=True)
    assert_not_blank(tmp_path / "gbp.png")

    page.goto(server + "/qc/history")
    assert page.locator("#history td[data-status]").count() == 1
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=tmp_path / "history.png", full_page=True)
    assert_not_blank(tmp_path / "history.png")


def test_api_docs_render_offline(page, server):
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/api/qc", "/api/gbp", "/api/pet", "/api/bonescan", "/api/rds"} <= {p.strip() for p in paths}


def test_a_bad_upload_shows_one_clear_message(page, tmp_path):
    analyse(page, {"name": "empty.dcm", "mimeType": "application/dicom", "buffer": b""})
    assert page.locator("#error").inner_text() == "empty.dcm: the file is empty."
    assert page.locator("#result").is_hidden()
    page.screenshot(path=tmp_path / "error.png")
