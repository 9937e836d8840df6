"""web benchmark: flood-check latency through `nmkit serve` after model load, and a load test of 20 concurrent
uploads on loopback that checks every answer belongs to its own flood.

    .venv/bin/python benchmarks/web.py              # 20 repeats for latency, 20 concurrent uploads
    .venv/bin/python benchmarks/web.py --concurrent 50
    .venv/bin/python benchmarks/web.py --smoke --out /tmp/x     # a tiny run

The server runs in this process on 127.0.0.1 (uvicorn, a free port) with the shipped qc model; requests go
over real HTTP with httpx. Every concurrent answer is counted: answered (HTTP 200 with this flood's figures), lost
(an error, a timeout or another status) or mixed up (an answer for another flood, or other figures).
Writes the `web` section of BENCHMARKS.md and benchmarks/results/web.json.
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

from common import add_output_options, command, machine, outputs, write_section  # noqa: E402

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


def post(base: str, path: Path) -> tuple[float, dict | None]:
    """Seconds to the answer and its JSON; None for a lost answer (an error, a timeout, a status other than 200)."""
    start = time.perf_counter()
    try:
        response = httpx.post(f"{base}/api/qc", files={"file": (path.name, path.read_bytes())}, timeout=300)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        body = None
    return time.perf_counter() - start, body


FIGURES = ("ufov_iu", "cfov_iu", "ufov_du", "cfov_du", "defect_probability")


def tally(files: list[Path], answers: list[tuple[float, dict | None]], expected: dict[str, dict]) -> dict[str, int]:
    """How many answers were right, lost (None) or mixed up (another file's name or other figures)."""
    lost = sum(body is None for _, body in answers)
    mixed = sum(1 for f, (_, body) in zip(files, answers) if body is not None and (
        body.get("file") != f.name or any(body.get("result", {}).get(k) != expected[f.name][k] for k in FIGURES)))
    return {"answered": len(answers) - lost - mixed, "lost": lost, "mixed_up": mixed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=20)
    add_output_options(parser)
    args = parser.parse_args()
    out, benchmarks = outputs(args)
    if args.smoke:
        args.repeats, args.concurrent = 2, 2
    rows: dict = {"machine": machine(), "command": command("web.py")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = floods(folder, max(args.repeats, args.concurrent))
        net, info = load_qc_model()
        expected = {f.name: FloodQC(f).analyze(net, info).results_data().as_dict() for f in files}
        server, base = serve(Settings(data_dir=folder / "data"))
        try:
            post(base, files[0])  # loads the model
            timed = [post(base, f) for f in files[:args.repeats]]
            latencies = [t for t, body in timed if body is not None]
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.concurrent) as pool:
                answers = list(pool.map(lambda f: post(base, f), files[:args.concurrent]))
            wall = time.perf_counter() - start
        finally:
            server.should_exit = True
        counts = tally(files, answers, expected)
    rows |= {"latency_median_s": statistics.median(latencies) if latencies else None,
             "latency_max_s": max(latencies, default=None), "latency_lost": len(timed) - len(latencies),
             "concurrent": args.concurrent, "concurrent_ok": counts["answered"], "concurrent_lost": counts["lost"],
             "concurrent_mixed_up": counts["mixed_up"], "concurrent_wall_s": wall,
             "concurrent_max_s": max(t for t, _ in answers)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "web.json").write_text(json.dumps(rows, indent=2))
    text = render(rows, args)
    write_section("web", text, benchmarks)
    print(text)


def render(rows: dict, args) -> str:
    return "\n".join([
        "## web: `nmkit serve`", "",
        f"Command: `{rows['command']}` (server on "
        "127.0.0.1 in the same process, shipped qc model, 256x256 NM DICOM phantom floods over real HTTP).",
        f"Machine: {rows['machine']}.", "",
        "| measure | result | target |", "|---|---|---|",
        f"| flood check through `POST /api/qc` after model load, median (max) of {args.repeats} | "
        + ("all lost" if rows["latency_median_s"] is None else
           f"**{rows['latency_median_s'] * 1000:.0f} ms** ({rows['latency_max_s'] * 1000:.0f} ms)")
        + (f", {rows['latency_lost']} lost" if rows["latency_lost"] else "") + " | < 1 s |",
        f"| {rows['concurrent']} concurrent uploads: answered / lost / mixed up | **{rows['concurrent_ok']} / "
        f"{rows['concurrent_lost']} / {rows['concurrent_mixed_up']}** | all / 0 / 0 |",
        f"| {rows['concurrent']} concurrent uploads: wall time (slowest answer) | {rows['concurrent_wall_s']:.1f} s "
        f"({rows['concurrent_max_s']:.1f} s) | |", "",
        "Each concurrent answer is checked against the same flood analysed directly with `FloodQC` (file name and "
        "every uniformity figure): an answer for the wrong upload, or with other figures, counts as mixed up; an "
        "error, a timeout or a status other than 200 counts as lost."])


if __name__ == "__main__":
    main()
