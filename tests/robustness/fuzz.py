"""A seeded mutation fuzzer over every nmkit reader; run as a script in its own process (see test_fuzz.py).

    python tests/robustness/fuzz.py WORKDIR --count 1000 --seed 0

It writes one small valid file per kind (DICOM explicit and deflated, NIfTI .nii and .nii.gz, PNG grey, 16-bit
and RGB, TIFF, .npy, MetaImage .mhd/.raw, .mat v5 and v7.3, LabelMe JSON, CSV manifest), then reads ``count``
mutants of them (bits flipped, bytes and 32-bit words overwritten with edge values, chunks cut, repeated or
dropped, numbers in text swapped for edge values; compressed kinds are mutated inside and compressed again).
Every read must end in a result or nmkit's InputError: any other exception, a read over ``--timeout`` seconds
or an allocation beyond ``--memory-gb`` over the start (RLIMIT_AS, so a MemoryError) is a failure. Prints one
JSON line: counts per kind and the failures (each mutant kept under WORKDIR/failures to replay).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import shutil
import signal
import sys
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

EDGE_BYTES = (0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE)
EDGE_WORDS = (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFF, 0x10000, 1)
EDGE_NUMBERS = ("0", "-1", "1e309", "nan", "-inf", "99999999999", "", "2147483648", "1.5", "x")


class Timeout(Exception):
    pass


def make_seeds(folder: Path) -> dict[str, Path]:
    """One small valid file per kind, in ``folder``."""
    from PIL import Image as PILImage
    import scipy.io
    import tifffile

    from nmkit.io.dicom_write import write_nm_dicom
    from nmkit.io.matlab import write_bone_mat
    from nmkit.io.pet import write_suv_nifti
    from nmkit.phantoms.flood import MANIFEST_COLUMNS
    from nmkit.phantoms.table import write_table

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    counts = rng.poisson(50, (2, 16, 16)).astype(np.uint16)
    seeds = {"dicom": write_nm_dicom(folder / "nm.dcm", counts, (4.0, 4.0), extra={"StationName": "FUZZ"})}
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.robustness.bombs import deflated_dicom

    seeds["dicom-deflated"] = deflated_dicom(folder / "deflated.dcm", 16, 16, frames=2)
    seeds["nifti"] = write_suv_nifti(folder / "pet.nii", rng.random((3, 16, 16), np.float32) * 5, (4.0, 4.0, 4.0))
    seeds["nifti-gz"] = write_suv_nifti(folder / "pet.nii.gz", rng.random((3, 16, 16), np.float32), (4.0, 4.0, 4.0))
    PILImage.fromarray(counts[0].astype(np.uint8)).save(folder / "grey.png")
    PILImage.fromarray(counts[0] * 100).save(folder / "grey16.png")  # uint16: mode I;16
    PILImage.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / "rgb.png")
    seeds |= {"png": folder / "grey.png", "png16": folder / "grey16.png", "png-rgb": folder / "rgb.png"}
    tifffile.imwrite(folder / "stack.tif", counts)
    seeds["tiff"] = folder / "stack.tif"
    np.save(folder / "flood.npy", counts)
    seeds["npy"] = folder / "flood.npy"
    (folder / "flood.raw").write_bytes(counts.tobytes())
    (folder / "flood.mhd").write_text("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
                                      "ElementSpacing = 4 4 1\nDimSize = 16 16 2\nElementType = MET_USHORT\n"
                                      "ElementDataFile = flood.raw\n")
    seeds["mhd"], seeds["mhd-raw"] = folder / "flood.mhd", folder / "flood.raw"
    views = rng.poisson(3, (2, 1024, 256))
    seeds["mat-v73"] = write_bone_mat(folder / "scan73.mat", views, (2, 4), "v7.3")
    names = np.empty((1, 2), dtype=object)
    names[0, :] = ["normal", "mild DJD"]
    scipy.io.savemat(folder / "scan5.mat", {"V": np.moveaxis(views, 0, 2).astype(np.uint16),
                                            "diaginfo": {"kneejointid": np.array([[2.0, 4.0]]), "kneejointname": names}})
    seeds["mat-v5"] = folder / "scan5.mat"
    (folder / "lungs.json").write_text(json.dumps({
        "version": "5.2.1", "imageHeight": 32, "imageWidth": 32, "shapes": [
            {"label": "lung", "shape_type": "polygon", "points": [[2, 2], [14, 3], [12, 28], [3, 25]]},
            {"label": "lung", "shape_type": "rectangle", "points": [[18, 2], [29, 27]]},
            {"label": "marker", "shape_type": "circle", "points": [[16, 16], [18, 18]]}]}))
    seeds["labelme"] = folder / "lungs.json"
    rows = [{"file": f"images/flood_{i:05d}.npy", "label": i % 2, "defect": "cold", "alpha": 0.1 * i,
             "diameter": 10, "brush": 1, "row": 5, "col": 7, "counts": 300.0} for i in range(4)]
    write_table(folder / "manifest.csv", MANIFEST_COLUMNS, rows)
    seeds["csv"] = folder / "manifest.csv"
    return seeds


def readers() -> dict[str, Callable[[Path], object]]:
    """Each kind's reader: both the server's header probe and the full read for images."""
    from nmkit.io import load_image, read_header, read_labelme
    from nmkit.io.matlab import mat_header, read_bone_mat
    from nmkit.phantoms.flood import read_manifest

    def image(path: Path) -> object:
        read_header(path)
        return load_image(path)

    def mat(path: Path) -> object:
        mat_header(path)
        return read_bone_mat(path)

    return {"image": image, "mat": mat, "labelme": read_labelme, "csv": read_manifest}


def mutate(data: bytes, rng: np.random.Generator, text: bool) -> bytes:
    """One to three random mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        if not buf:
            break
        op = int(rng.integers(0, 7 if text else 6))
        head = min(len(buf), 512)  # headers live at the start: aim half the writes there
        at = int(rng.integers(0, head if rng.random() < 0.5 else len(buf)))
        if op == 0:
            for _ in range(int(rng.integers(1, 9))):
                i = int(rng.integers(0, len(buf)))
                buf[i] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:
            buf[at] = EDGE_BYTES[int(rng.integers(0, len(EDGE_BYTES)))]
        elif op == 2 and len(buf) >= 4:
            at = min(at, len(buf) - 4)
            word = EDGE_WORDS[int(rng.integers(0, len(EDGE_WORDS)))]
            buf[at:at + 4] = word.to_bytes(4, "little" if rng.random() < 0.5 else "big")
        elif op == 3:
            del buf[int(rng.integers(0, len(buf))):]
        elif op == 4:
            size = int(rng.integers(1, 64))
            del buf[at:at + size]
        elif op == 5:
            size = int(rng.integers(1, 64))
            buf[at:at] = buf[at:at + size] * int(rng.integers(1, 4))
        else:
            buf = bytearray(_swap_number(bytes(buf), rng))
    return bytes(buf)


def _swap_number(data: bytes, rng: np.random.Generator) -> bytes:
    numbers = list(re.finditer(rb"-?\d+(\.\d+)?", data))
    if not numbers:
        return data
    match = numbers[int(rng.integers(0, len(numbers)))]
    edge = EDGE_NUMBERS[int(rng.integers(0, len(EDGE_NUMBERS)))].encode()
    return data[:match.start()] + edge + data[match.end():]


def mutant(kind: str, seed_path: Path, out: Path, rng: np.random.Generator) -> tuple[str, Path]:
    """Write one mutant of ``seed_path`` under ``out``; returns (reader, path to read)."""
    data = seed_path.read_bytes()
    text = kind in ("mhd", "labelme", "csv")
    if kind == "nifti-gz":
        path = out / "m.nii.gz"
        path.write_bytes(gzip.compress(mutate(gzip.decompress(data), rng, False), mtime=0)
                         if rng.random() < 0.7 else mutate(data, rng, False))
    elif kind == "dicom-deflated" and rng.random() < 0.7:
        start = data.index(b"DICM") + 4
        start += 12 + int.from_bytes(data[start + 8:start + 12], "little")  # after the file meta group
        body = mutate(zlib.decompress(data[start:], -zlib.MAX_WBITS), rng, False)
        deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        path = out / "m.dcm"
        path.write_bytes(data[:start] + deflate.compress(body) + deflate.flush())
    elif kind == "mhd-raw":
        shutil.copyfile(seed_path.with_suffix(".mhd"), out / "flood.mhd")
        (out / "flood.raw").write_bytes(mutate(data, rng, False))
        path = out / "flood.mhd"
    elif kind == "mhd":
        shutil.copyfile(seed_path.with_suffix(".raw"), out / "flood.raw")
        path = out / "flood.mhd"
        path.write_bytes(mutate(data, rng, True))
    else:
        suffix = "".join(seed_path.suffixes[-2:]) if seed_path.name.endswith(".nii.gz") else seed_path.suffix
        path = out / f"m{suffix}"
        path.write_bytes(mutate(data, rng, text))
    reader = "mat" if kind.startswith("mat") else kind if kind in ("labelme", "csv") else "image"
    return reader, path


def campaign(workdir: Path, count: int, seed: int, timeout_s: float) -> dict:
    from nmkit.errors import InputError
    from nmkit.io import pixel_limit

    seeds = make_seeds(workdir / "seeds")
    read = readers()
    kinds = sorted(seeds)
    rng = np.random.default_rng(seed)
    results: dict[str, dict[str, int]] = {k: {"result": 0, "input_error": 0} for k in kinds}
    failures = []
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Timeout()))
    scratch = workdir / "scratch"
    for i in range(count):
        kind = kinds[i % len(kinds)]
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        reader, path = mutant(kind, seeds[kind], scratch, rng)
        (workdir / "current.json").write_text(json.dumps({"i": i, "kind": kind, "file": str(path)}))
        outcome = "result"
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            with pixel_limit(64):
                read[reader](path)
        except InputError:
            outcome = "input_error"
        except BaseException as exc:  # noqa: BLE001  (anything else is what the fuzzer looks for)
            outcome = "failure"
            keep = workdir / "failures" / f"{i:05d}-{kind}"
            shutil.copytree(scratch, keep, dirs_exist_ok=True)
            failures.append({"i": i, "kind": kind, "file": str(keep / path.name),
                             "error": "timeout" if isinstance(exc, Timeout) else f"{type(exc).__name__}: {exc}"[:300],
                             "where": traceback.format_exc().strip().splitlines()[-3:]})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if outcome != "failure":
            results[kind][outcome] += 1
    (workdir / "current.json").unlink()
    return {"count": count, "seed": seed, "kinds": results, "failures": failures}


def limit_memory(gigabytes: float) -> None:
    """Allow this process ``gigabytes`` of address space beyond what it holds now (its imports)."""
    status = Path("/proc/self/status").read_text()
    held = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024 if "VmSize" in status else 0
    limit = held + int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds one read may take.")
    parser.add_argument("--memory-gb", type=float, default=2.0, help="Address space one process may add.")
    args = parser.parse_args()
    import nmkit.io  # noqa: F401  (every reader's libraries, before the memory limit is set)
    import nmkit.io.matlab  # noqa: F401
    import nmkit.phantoms.flood  # noqa: F401

    limit_memory(args.memory_gb)
    print(json.dumps(campaign(args.workdir, args.count, args.seed, args.timeout)))


if __name__ == "__main__":
    main()
