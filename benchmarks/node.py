"""node benchmark: `nmkit node` receives 200 floods in one association and 20 gated studies in 20 parallel
associations; every series must be analysed by its workflow, none lost or mixed up, every SR valid.

    .venv/bin/python benchmarks/node.py                 # 200 floods, 20 gated studies
    .venv/bin/python benchmarks/node.py --floods 20 --gated 4

The node runs as a separate process (`python -m nmkit.cli node`, shipped models, a free port on 127.0.0.1);
pynetdicom sends. "Not mixed up": each series' SR refers to the instance sent in that series, and its numbers
equal an in-process analysis of that same file (FloodQC for UFOV IU, GatedEF for the EF). "Valid": dciodvfy
reports no error in any SR. Small phantoms (64x64 floods, 8-frame 64x64 gated studies) keep it to minutes on
2 cores. Writes the `node` section of BENCHMARKS.md and benchmarks/results/node.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
from pynetdicom import AE
from pynetdicom.sop_class import NuclearMedicineImageStorage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.dicom.sr import read_measurements  # noqa: E402
from nmkit.io.dicom_write import write_nm_dicom  # noqa: E402
from nmkit.workflows.gbp.analyse import GatedEF, load_gbp_model  # noqa: E402
from nmkit.workflows.qc.analyse import FloodQC, load_qc_model  # noqa: E402

PATIENT = "BENCH^NODE"


def make_studies(folder: Path, n_floods: int, n_gated: int) -> tuple[list[Path], list[Path]]:
    """64x64 Poisson floods (300 counts/px) and 8-frame gated studies of a beating disc, each its own series."""
    rng = np.random.default_rng(2024)
    floods = [write_nm_dicom(folder / f"flood{i:03d}.dcm", rng.poisson(300, (1, 64, 64)), (6.0, 6.0),
                             patient_id=PATIENT, series_description=f"FLOOD {i}") for i in range(n_floods)]
    rows, cols = np.indices((64, 64))
    gated = []
    for i in range(n_gated):
        phase = np.cos(2 * np.pi * np.arange(8) / 8)
        radius = 6 + (4 + i % 4) * (phase + 1) / 2
        masks = np.stack([(rows - 30 - i % 3) ** 2 + (cols - 30) ** 2 <= r ** 2 for r in radius])
        study = rng.poisson(20 + 200 * masks)
        gated.append(write_nm_dicom(folder / f"gated{i:02d}.dcm", study, (6.0, 6.0), gated={"heart_rate_bpm": 70},
                                    patient_id=PATIENT, series_description=f"GATED {i}"))
    return floods, gated


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(port: int, paths: list[Path]) -> None:
    """All ``paths`` in one association; every status must be success."""
    ae = AE(ae_title="BENCH")
    ae.add_requested_context(NuclearMedicineImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="NMKIT")
    if not assoc.is_established:
        raise RuntimeError("the node refused the association")
    try:
        for path in paths:
            status = assoc.send_c_store(pydicom.dcmread(path))
            if not status or status.Status != 0:
                raise RuntimeError(f"{path.name} was not stored")
    finally:
        assoc.release()


def wait_until_ready(port: int, timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError("the node did not start")


def check(data_dir: Path, sent: dict[str, tuple[str, Path]], reference: dict[str, float]) -> dict:
    """Per series: analysed by the right workflow, its SR refers to the sent instance and holds the reference
    number, dciodvfy finds no error."""
    analysed = lost = mixed = invalid = 0
    dciodvfy = shutil.which("dciodvfy")
    for series, (workflow, path) in sent.items():
        result = data_dir / "results" / series / "result.json"
        if not result.is_file():
            lost += 1
            continue
        doc = json.loads(result.read_text())
        sr_path = data_dir / "results" / series / doc["dicom_files"]["sr"]
        sr = pydicom.dcmread(sr_path)
        sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        number = read_measurements(sr)["UFOV integral uniformity" if workflow == "qc" else
                                       "Left ventricular Ejection fraction"]
        if doc["workflow"] != workflow or evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID != sop or \
                number != reference[series]:
            mixed += 1
        if dciodvfy:
            out = subprocess.run([dciodvfy, str(sr_path)], capture_output=True, text=True)
            invalid += any(line.startswith("Error") for line in (out.stdout + out.stderr).splitlines())
        analysed += 1
    return {"analysed": analysed, "lost": lost, "mixed_up": mixed, "invalid_sr": invalid if dciodvfy else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--floods", type=int, default=200)
    parser.add_argument("--gated", type=int, default=20)
    parser.add_argument("--idle-s", type=float, default=2.0)
    args = parser.parse_args()
    started_on = machine()
    (ROOT / "runs").mkdir(exist_ok=True)  # not /tmp: shared machines clean it
    with tempfile.TemporaryDirectory(dir=ROOT / "runs", prefix="node-benchmark-") as tmp:
        tmp = Path(tmp)
        floods, gated = make_studies(tmp / "in", args.floods, args.gated)
        series = {str(pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID): (w, p)
                  for w, paths in (("qc", floods), ("gbp", gated)) for p in paths}
        qc_model, gbp_model = load_qc_model(), load_gbp_model()
        reference = {uid: (FloodQC(p).analyze(*qc_model).results_data().ufov_iu if w == "qc" else
                           GatedEF(p).analyze(*gbp_model).results_data().ef) for uid, (w, p) in series.items()}
        port, data_dir = free_port(), tmp / "node"
        node = subprocess.Popen([sys.executable, "-m", "nmkit.cli", "node", "--port", str(port), "--data-dir",
                                 str(data_dir), "--idle-s", str(args.idle_s)], stdout=subprocess.DEVNULL,
                                stderr=open(tmp / "node.log", "w"), env=os.environ | {"PYTHONUNBUFFERED": "1"})
        try:
            wait_until_ready(port)
            t0 = time.perf_counter()
            send(port, floods)
            t_floods = time.perf_counter() - t0
            t1 = time.perf_counter()
            with ThreadPoolExecutor(len(gated) or 1) as pool:
                list(pool.map(lambda p: send(port, [p]), gated))
            t_gated = time.perf_counter() - t1
            done = lambda: sum((data_dir / d / uid).is_dir() for uid in series for d in ("results", "rejected"))  # noqa: E731
            while done() < len(series) and time.perf_counter() - t0 < 3600:
                time.sleep(1.0)
            t_all = time.perf_counter() - t0
        finally:  # the node must be gone before its folder is
            node.send_signal(signal.SIGINT)
            try:
                node.wait(timeout=300)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        outcome = check(data_dir, series, reference)
        rejected = sorted(p.read_text().strip() for p in (data_dir / "rejected").glob("*/reason.txt"))
    row = {"floods": args.floods, "gated": args.gated, "idle_s": args.idle_s, "send_floods_s": round(t_floods, 2),
           "send_gated_s": round(t_gated, 2), "all_analysed_s": round(t_all, 1),
           "series_per_s": round(len(series) / t_all, 2), **outcome, "rejected": rejected, "machine": started_on,
           "load_at_end": round(os.getloadavg()[0], 1)}
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "node.json").write_text(json.dumps(row, indent=1))
    command = "python benchmarks/node.py" + ("" if (args.floods, args.gated) == (200, 20) else
                                             f" --floods {args.floods} --gated {args.gated}")
    write_section("node", f"""## node: `nmkit node` under load

Command: `{command}` on {started_on}.
The node is a separate `python -m nmkit.cli node` process (shipped qc and gbp models, idle timeout {args.idle_s:g} s);
{args.floods} floods (64x64 NM) go in one association, then {args.gated} gated studies (8 frames of 64x64) in
{args.gated} parallel associations.

- Analysed: **{outcome['analysed']} of {len(series)}** series; lost {outcome['lost']}, mixed up {outcome['mixed_up']}
  (SR refers to another instance, another workflow, or numbers that differ from an in-process analysis of the same
  file); SRs with a dciodvfy error: {outcome['invalid_sr']}.
- Sending: {args.floods} floods in {t_floods:.1f} s ({args.floods / t_floods:.0f} instances/s, each written to disk
  before its acknowledgement); {args.gated} gated studies in parallel in {t_gated:.1f} s.
- From the first instance sent to the last series' results written: {t_all:.0f} s ({len(series) / t_all:.2f} series/s,
  analysis with SEG, SR and SC, one analysis at a time); 1-min load average {row['load_at_end']:.1f} when it ended.
""")
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
