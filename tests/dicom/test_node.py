"""`nmkit node`: C-ECHO and C-STORE from pynetdicom and dcmtk, routing by content, results equal to the CLI's, the
forward, a restart, and bad input (one logged sentence each; the node keeps serving, nothing acknowledged lost)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, NuclearMedicineImageStorage
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import CTImageStorage, Verification

from nmkit.dicom.forward import Destination
from nmkit.dicom.node import Node
from nmkit.dicom.sr import read_measurements
from nmkit.workflows.routes import node_routes

from .conftest import assert_valid, flood_dicom, gated_dicom, read


def wait_for(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def start(data_dir: Path, idle_s: float = 1.0, forward_to: Destination | None = None) -> Node:
    node = Node(data_dir, node_routes(data_dir), forward_to=forward_to, idle_s=idle_s)
    node.start("127.0.0.1", 0)
    return node


def associate(port: int, *sop_classes: str, syntax: str | None = None):
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(Verification)
    for uid in sop_classes:
        ae.add_requested_context(uid, *([syntax] if syntax else []))
    assoc = ae.associate("127.0.0.1", port, ae_title="NMKIT")
    assert assoc.is_established
    return assoc


def results(data_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (data_dir / "results").glob("*/result.json")}


def sr_of(data_dir: Path, series: str) -> dict:
    doc = results(data_dir)[series]
    return read_measurements(read(data_dir / "results" / series / doc["dicom_files"]["sr"]))


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("node")
    running = start(data_dir)
    yield running
    running.stop()


def test_store_routes_by_content_and_the_sr_equals_the_cli_json(node, studies, cli_results):
    assoc = associate(node.port, NuclearMedicineImageStorage)
    assert assoc.send_c_echo().Status == 0
    for path in (studies["flood"], studies["gated"]):
        assert assoc.send_c_store(read(path)).Status == 0
    assoc.release()
    flood, gated = (str(read(studies[k]).SeriesInstanceUID) for k in ("flood", "gated"))
    wait_for(lambda: {flood, gated} <= set(results(node.data_dir)))
    docs = results(node.data_dir)
    assert (docs[flood]["workflow"], docs[gated]["workflow"]) == ("qc", "gbp")
    qc, gbp = cli_results["flood"], cli_results["gated"]
    assert sr_of(node.data_dir, flood)["UFOV integral uniformity"] == qc["ufov_iu"]
    assert sr_of(node.data_dir, flood)["QC verdict"] == qc["verdict"]
    assert sr_of(node.data_dir, gated)["Left ventricular Ejection fraction"] == gbp["ef"]
    assert docs[flood]["result"]["history_id"] >= 1 and (node.data_dir / "nmkit.db").is_file()
    for name in docs[gated]["dicom_files"].values():
        assert_valid(node.data_dir / "results" / gated / name)
    assert (node.data_dir / "received" / gated).is_dir()


@pytest.mark.skipif(shutil.which("storescu") is None or shutil.which("echoscu") is None,
                    reason="dcmtk's storescu/echoscu are not installed")
def test_dcmtk_echoscu_and_storescu(node, tmp_path):
    address = ["-aec", "NMKIT", "127.0.0.1", str(node.port)]
    assert subprocess.run(["echoscu", *address], capture_output=True, timeout=60).returncode == 0
    flood = flood_dicom(tmp_path, seed=7)
    assert subprocess.run(["storescu", *address, str(flood)], capture_output=True, timeout=60).returncode == 0
    series = str(read(flood).SeriesInstanceUID)
    wait_for(lambda: series in results(node.data_dir))
    assert results(node.data_dir)[series]["workflow"] == "qc"


def test_bad_input_is_one_logged_sentence_and_the_node_keeps_serving(node, studies, tmp_path, caplog, monkeypatch):
    caplog.set_level("WARNING", logger="nmkit.node")
    # 1. a file whose dataset is not DICOM (valid file meta, junk after it), sent as is
    junk = tmp_path / "junk.dcm"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = NuclearMedicineImageStorage, "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    with junk.open("wb") as handle:
        handle.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(handle, meta)
        handle.write(b"\x08\x00\x18\x00UI\xff\x7fnot DICOM at all " * 4)
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    assoc = associate(node.port, NuclearMedicineImageStorage, syntax=ExplicitVRLittleEndian)
    assert assoc.send_c_store(junk).Status == 0xC210
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", False)
    # 2. a series mixing modalities: an NM flood and a PT slice that claim the same series
    flood = read(flood_dicom(tmp_path, seed=11))
    pet = read(studies["pet"] / "slice00.dcm")
    pet.SeriesInstanceUID = flood.SeriesInstanceUID
    assoc.release()
    assoc = associate(node.port, NuclearMedicineImageStorage, pet.SOPClassUID)
    assert assoc.send_c_store(flood).Status == 0 and assoc.send_c_store(pet).Status == 0
    assoc.release()
    # 3. an unsupported SOP class: its presentation context is refused at association
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", node.port, ae_title="NMKIT")
    assert not assoc.accepted_contexts
    assoc.release()
    # 4. an association that stops mid-instance: the acknowledged instance is kept, the cut one is not
    kept, cut = read(flood_dicom(tmp_path, "kept.dcm", seed=12)), read(gated_dicom(tmp_path, "cut.dcm", shift=5))
    assoc = associate(node.port, NuclearMedicineImageStorage)
    assoc.dimse_timeout = 2
    assert assoc.send_c_store(kept).Status == 0
    sock, sent = assoc.dul.socket, []

    def cut_off(data: bytes) -> None:
        sent.append(len(data))
        if len(sent) == 3:  # the third PDU of the instance: send half of it, then hang up
            sock.socket.sendall(data[: len(data) // 2])
            sock.socket.close()
            raise OSError("connection cut by the test")
        sock.socket.sendall(data)

    monkeypatch.setattr(sock, "send", cut_off)
    assoc.send_c_store(cut)
    wait_for(lambda: str(kept.SeriesInstanceUID) in results(node.data_dir))
    wait_for(lambda: (node.data_dir / "rejected" / str(flood.SeriesInstanceUID)).is_dir())
    assert str(cut.SeriesInstanceUID) not in results(node.data_dir)
    assert not list(node.data_dir.glob(f"*/{cut.SeriesInstanceUID}"))
    reason = (node.data_dir / "rejected" / str(flood.SeriesInstanceUID) / "reason.txt").read_text()
    assert "mixes modalities (NM, PT)" in reason
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "not a readable DICOM dataset" in messages and "mixes modalities" in messages
    assoc = associate(node.port)
    assert assoc.send_c_echo().Status == 0
    assoc.release()


def test_restart_finishes_what_was_received(studies, tmp_path):
    first = start(tmp_path, idle_s=600)
    assoc = associate(first.port, NuclearMedicineImageStorage)
    assert assoc.send_c_store(read(studies["flood"])).Status == 0
    assoc.release()
    first.stop()
    series = str(read(studies["flood"]).SeriesInstanceUID)
    assert (tmp_path / "incoming" / series).is_dir() and not results(tmp_path)
    second = start(tmp_path, idle_s=600)
    try:
        wait_for(lambda: series in results(tmp_path))
    finally:
        second.stop()


def test_forward_sends_the_results_and_an_unreachable_one_is_logged(studies, tmp_path, caplog):
    from pynetdicom import AllStoragePresentationContexts

    caplog.set_level("WARNING", logger="nmkit.node")
    stored = []
    pacs = AE(ae_title="PACS")
    pacs.supported_contexts = AllStoragePresentationContexts
    server = pacs.start_server(("127.0.0.1", 0), block=False,
                               evt_handlers=[(evt.EVT_C_STORE, lambda e: stored.append(e.dataset.Modality) or 0)])
    port = server.server_address[1]
    node = start(tmp_path / "a", forward_to=Destination("PACS", "127.0.0.1", port))
    lost = start(tmp_path / "b", forward_to=Destination("PACS", "127.0.0.1", 9))  # nothing listens on port 9
    try:
        for running in (node, lost):
            assoc = associate(running.port, NuclearMedicineImageStorage)
            assert assoc.send_c_store(read(studies["flood"])).Status == 0
            assoc.release()
        wait_for(lambda: len(stored) == 3)
        wait_for(lambda: "not forwarded to PACS@127.0.0.1:9" in caplog.text)
        assert sorted(stored) == ["OT", "SEG", "SR"]
        assert len(results(tmp_path / "b")) == 1
    finally:
        node.stop()
        lost.stop()
        server.shutdown()


@pytest.mark.parametrize("args, message", [(["--forward", "PACS@host"], "is not AET@HOST:PORT"),
                                           (["--aet", "A" * 17], "is not an AE title of 1 to 16 characters")])
def test_cli_refuses_a_bad_forward_or_ae_title(args, message, tmp_path):
    from typer.testing import CliRunner

    from nmkit.cli import app

    result = CliRunner().invoke(app, ["node", "--data-dir", str(tmp_path / "d"), *args])
    assert result.exit_code == 2 and message in result.output and not (tmp_path / "d").exists()


def test_more_simultaneous_associations_than_pynetdicoms_default_of_10(node):
    associations = [associate(node.port) for _ in range(12)]
    assert all(assoc.send_c_echo().Status == 0 for assoc in associations)
    for assoc in associations:
        assoc.release()
