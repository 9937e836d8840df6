"""web benchmark: flood-check latency through `nmkit serve` after model load, and a load test of 20 concurrent
uploads on loopback that checks every answer belongs to its own flood.

    .venv/bin/python benchmarks/web.py              # 20 repeats for latency, 20 concurrent uploads
    .venv/bin/python benchmarks/web.py --concurrent 50

The server runs in this process on 127.0.0.1 (uvicorn, a free port) with the shipped qc model; requests go
over real HTTP with httpx. Writes the `web` section of BENCHMARKS.md and benchmarks/results/web.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.io.dicom_write import write_nm_dicom  # noqa: E402
from nmkit.phantoms.flood import FloodSpec, generate_floods  # noqa: E402
from nmkit.web.app import Settings, create_app  # noqa: E402
from nmkit.workflows.qc.analyse import FloodQC, load_qc_model  # noqa: E402


def floods(folder: Path, n: int) -> list[Path]:
    """``n`` different 256x256 phantom floods (3.2 mm pixels, 392 counts/px) as NM DICOM of one camera."""
    spec = dataclasses.replace(FloodSpec(), counts=392.0, shape=(256, 256))
    images, _ = generate_floods(spec, n, seed=4321)
    return [write_nm_dicom(folder / f"flood_{i:03d}.dcm", images[i:i + 1].astype(np.uint16), (3.2, 3.2),
                           extra={"StationName": "BENCH", "DeviceSerialNumber": "B1", "AcquisitionDate": f"202611{1 + i % 28:02d}"}) for i in range(n)]


def serve(settings: Settings):
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def post(base: str, path: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    response = httpx.post(f"{base}/api/qc", files={"file": (path.name, path.read_bytes())}, timeout=300)
    response.raise_for_status()
    return time.perf_counter() - start, response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    rows: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = floods(folder, max(args.repeats, args.concurrent))
        net, info = load_qc_model()
        expected = {f.name: FloodQC(f).analyze(net, info).results_data().as_dict() for f in files}
        server, base = serve(Settings(data_dir=folder / "data"))
        try:
            post(base, files[0])  # loads the model
            latencies = [post(base, f)[0] for f in files[:args.repeats]]
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.concurrent) as pool:
                answers = list(pool.map(lambda f: post(base, f), files[:args.concurrent]))
            wall = time.perf_counter() - start
        finally:
            server.should_exit = True
        mixed = sum(1 for f, (_, body) in zip(files, answers) if body["file"] != f.name or any(
            body["result"][k] != expected[f.name][k] for k in ("ufov_iu", "cfov_iu", "ufov_du", "cfov_du",
                                                              "defect_probability")))
    rows |= {"latency_median_s": statistics.median(latencies), "latency_max_s": max(latencies),
             "concurrent": args.concurrent, "concurrent_ok": len(answers), "concurrent_mixed_up": mixed,
             "concurrent_wall_s": wall, "concurrent_max_s": max(t for t, _ in answers)}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "web.json").write_text(json.dumps(rows, indent=2))
    text = render(rows, args)
    write_section("web", text)
    print(text)


def render(rows: dict, args) -> str:
    return "\n".join([
        "## web: `nmkit serve`", "",
        f"Command: `python benchmarks/web.py --repeats {args.repeats} --concurrent {args.concurrent}` (server on "
        "127.0.0.1 in the same process, shipped qc model, 256x256 NM DICOM phantom floods over real HTTP).",
        f"Machine: {rows['machine']}.", "",
        "| measure | result | target |", "|---|---|---|",
        f"| flood check through `POST /api/qc` after model load, median (max) of {args.repeats} | "
        f"**{rows['latency_median_s'] * 1000:.0f} ms** ({rows['latency_max_s'] * 1000:.0f} ms) | < 1 s |",
        f"| {rows['concurrent']} concurrent uploads: answered / lost or mixed up | **{rows['concurrent_ok']} / "
        f"{rows['concurrent_mixed_up']}** | all / 0 |",
        f"| {rows['concurrent']} concurrent uploads: wall time (slowest answer) | {rows['concurrent_wall_s']:.1f} s "
        f"({rows['concurrent_max_s']:.1f} s) | |", "",
        "Each concurrent answer is checked against the same flood analysed directly with `FloodQC` (file name and "
        "every uniformity figure), so an answer for the wrong upload counts as mixed up."])


if __name__ == "__main__":
    main()
