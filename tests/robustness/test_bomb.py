"""Item 1: decompression bombs are refused from their headers, before any decoding, in every reader, the CLI
and the server (413, one sentence, nothing stored, decoding only in the worker pool)."""

from __future__ import annotations

import json
import threading
import time

import h5py
import numpy as np
import pytest
import tifffile

from nmkit.errors import InputError
from nmkit.io import TooLarge, load_image, pixel_limit, read_header, read_labelme
from nmkit.io.matlab import read_bone_mat, write_bone_mat

from . import bombs
from .conftest import client_for, flood, one_sentence_error, post, run_cli, stored


def refused_quickly(read, *args) -> TooLarge:
    start = time.perf_counter()
    with pytest.raises(TooLarge) as caught:
        read(*args)
    assert time.perf_counter() - start < 1.0
    message = str(caught.value)
    assert "limit" in message and message.endswith(".") and "\n" not in message
    return caught.value


def test_the_issues_deflated_dicom_bomb_is_refused_from_its_header(tmp_path):
    bomb = bombs.deflated_dicom(tmp_path / "bomb.dcm", 2048, 2048, frames=4)  # 32 MB decoded, 33 kB on disk
    with pixel_limit(16):
        err = refused_quickly(load_image, bomb)
        refused_quickly(read_header, bomb)
    assert "2048 x 2048" in str(err) and str(bomb) in str(err)


def test_a_deflated_stream_longer_than_its_header_declares_is_refused(tmp_path):
    """A small declared image whose deflated pixel element still holds gigabytes is refused while inflating."""
    import struct
    import zlib

    bomb = bombs.deflated_dicom(tmp_path / "small.dcm", 16, 16, complete=True)
    raw = bomb.read_bytes()
    start = raw.index(b"DICM") + 4 + 12 + int.from_bytes(raw[raw.index(b"DICM") + 12:raw.index(b"DICM") + 16], "little")
    body = zlib.decompress(raw[start:], -zlib.MAX_WBITS)
    body = body[:body.index(struct.pack("<HH", 0x7FE0, 0x0010)) + 8] + struct.pack("<I", 40 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    bomb.write_bytes(raw[:start] + deflate.compress(body) + deflate.compress(bytes(40 << 20)) + deflate.flush())
    with pixel_limit(64):
        with pytest.raises(TooLarge, match="inflate to more than"):
            load_image(bomb)


@pytest.mark.parametrize("make", ["png", "nifti", "npy", "tiff", "metaimage"])
def test_every_image_reader_checks_the_declared_size_first(tmp_path, make):
    if make == "png":
        path = bombs.png(tmp_path / "bomb.png", 12000, 12000, complete=False)  # 144 MB declared
    elif make == "nifti":
        path = bombs.nifti(tmp_path / "bomb.nii.gz")
    elif make == "npy":
        path = bombs.npy(tmp_path / "bomb.npy")
    elif make == "tiff":
        path = tmp_path / "small.tif"
        tifffile.imwrite(path, np.zeros((4, 64, 64), np.uint16))
    else:
        path = tmp_path / "bomb.mhd"
        path.write_text("NDims = 3\nDimSize = 4096 4096 4096\nElementType = MET_SHORT\nElementDataFile = bomb.raw\n")
        (tmp_path / "bomb.raw").write_bytes(bytes(16))
    with pixel_limit(0.01 if make == "tiff" else 64):
        refused_quickly(load_image, path)
        refused_quickly(read_header, path)


def test_pillows_own_bomb_limit_is_one_sentence(tmp_path):
    bomb = bombs.png(tmp_path / "bomb.png", 30000, 30000, complete=False)  # over twice Pillow's MAX_IMAGE_PIXELS
    assert "Pillow" in str(refused_quickly(load_image, bomb))


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_mat_and_labelme_readers_check_their_sizes(tmp_path, version):
    mat = write_bone_mat(tmp_path / f"scan-{version}.mat", np.zeros((2, 1024, 256)), (2, 3), version)
    with pixel_limit(0.5):
        refused_quickly(read_bone_mat, mat)
    assert read_bone_mat(mat).knee_codes == (2, 3)
    labelme = tmp_path / "huge.json"
    labelme.write_text(json.dumps({"shapes": [{"label": "lung", "points": [[0, 0], [9, 0], [9, 9]]}],
                                   "imageHeight": 10**6, "imageWidth": 10**6}))
    refused_quickly(read_labelme, labelme)
    with h5py.File(tmp_path / "v.mat", "w") as f:  # not a study file at all: still one sentence
        f.create_dataset("X", data=np.zeros(3))
    with pytest.raises(InputError, match="no 'V' or 'Y'"):
        read_bone_mat(tmp_path / "v.mat")


def test_the_cli_refuses_a_bomb_with_one_sentence_and_takes_a_cap(tmp_path):
    bomb = bombs.deflated_dicom(tmp_path / "bomb.dcm", 8192, 8192, complete=False)
    line = one_sentence_error(run_cli("qc", "check", bomb, "--out", tmp_path / "out"))
    assert "8192 x 8192" in line and "limit of 64 MB" in line and not (tmp_path / "out").exists()
    small = flood(tmp_path / "flood.dcm")
    assert "limit of 0 MB" in one_sentence_error(run_cli("qc", "--max-pixel-mb", "0.001", "check", small,
                                                         "--out", tmp_path / "out"))
    assert "--max-pixel-mb" in one_sentence_error(run_cli("qc", "--max-pixel-mb", "nan", "check", small))


@pytest.mark.parametrize("path", ["/api/qc", "/api/analyse", "/api/analyses"])
def test_the_server_answers_a_bomb_with_413_and_stores_nothing(settings, tmp_path, path):
    bomb = bombs.deflated_dicom(tmp_path / "bomb.dcm", 8192, 8192, complete=False)
    client = client_for(settings)
    response = post(client, path, bomb.read_bytes(), name="bomb.dcm")
    detail = response.json()["detail"]
    assert response.status_code == 413 and detail.startswith("bomb.dcm: declares 8192 x 8192 pixels")
    assert "\n" not in detail and str(tmp_path) not in detail and stored(settings) == []


def test_the_server_caps_each_workflow_and_decodes_only_in_its_workers(settings, tmp_path, monkeypatch):
    from nmkit.web import jobs

    decoded_in = []
    real = jobs.load_image
    monkeypatch.setattr(jobs, "load_image", lambda path: decoded_in.append(threading.current_thread().name)
                        or real(path))
    settings.pixel_limits_mb = {"qc": 0.001}
    client = client_for(settings)
    data = flood(tmp_path / "flood.dcm").read_bytes()
    response = post(client, "/api/qc", data)
    assert response.status_code == 413 and "limit of 0 MB" in response.json()["detail"]
    settings.pixel_limits_mb.clear()
    assert post(client, "/api/qc", data).status_code == 200
    assert decoded_in and all(name.startswith("nmkit-job") for name in decoded_in)
