"""Receive: a DICOM storage SCP (pynetdicom) that writes each instance to disk before acknowledging it.

Only the SOP classes of the routing table are offered, so a client sending anything else has its presentation
context rejected at association (a polite refusal, no data taken). Each C-STORE is written under a temporary
name and renamed into ``incoming/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`` before the success status goes back,
so an association that breaks off loses only the instance that was never acknowledged.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pydicom
from pydicom.uid import UID
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from nmkit.atomic import atomic_path
from nmkit.dicom.group import SeriesGrouper

log = logging.getLogger("nmkit.node")
SUCCESS, OUT_OF_RESOURCES, CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC210


class Receiver:
    """The SCP: ``start()`` listens on (host, port) as ``aet``; ``stop()`` closes it."""

    def __init__(self, grouper: SeriesGrouper, sop_classes: list[str], aet: str = "NMKIT",
                 max_pending: int = 10_000, max_associations: int = 64):
        self.grouper, self.max_pending = grouper, max_pending
        self.ae = AE(ae_title=aet)
        self.ae.maximum_associations = max_associations  # pynetdicom's default, 10, refuses a busy department
        self.ae.add_supported_context(Verification)
        for uid in sop_classes:
            self.ae.add_supported_context(uid)
        self.ae.network_timeout = self.ae.acse_timeout = self.ae.dimse_timeout = 60
        self.server: Any = None

    def start(self, host: str, port: int) -> int:
        """Listen in the background; returns the port bound (useful with port 0)."""
        handlers = [(evt.EVT_C_STORE, self.on_store), (evt.EVT_C_ECHO, lambda event: SUCCESS),
                    (evt.EVT_ABORTED, self.on_aborted)]
        self.server = self.ae.start_server((host, port), block=False, evt_handlers=handlers)
        return int(self.server.server_address[1])

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def on_aborted(self, event: Any) -> None:
        log.warning("%s: the association was aborted; every instance acknowledged before is kept", _peer(event))

    def on_store(self, event: Any) -> int:
        """Write the instance, then acknowledge; a refusal status (with one logged sentence) otherwise."""
        raw = event.encoded_dataset(include_meta=True)
        try:
            header = pydicom.dcmread(io.BytesIO(raw), stop_before_pixels=True)
            series, sop = UID(str(header.SeriesInstanceUID)), UID(str(header.SOPInstanceUID))
            if not (series.is_valid and sop.is_valid):
                raise ValueError("its Series or SOP Instance UID is not a valid UID")
        except Exception as err:  # noqa: BLE001 - any parse failure means the same to the sender
            log.warning("%s: refused an instance that is not a readable DICOM dataset (%s)", _peer(event),
                        str(err).splitlines()[0][:200] if str(err) else type(err).__name__)
            return CANNOT_UNDERSTAND
        if self.grouper.pending() >= self.max_pending:
            log.warning("%s: refused instance %s: %d series already wait for analysis", _peer(event), sop,
                        self.max_pending)
            return OUT_OF_RESOURCES
        with self.grouper.lock:
            target = self.grouper.series_folder(str(series)) / f"{sop}.dcm"
            with atomic_path(target) as tmp:
                Path(tmp).write_bytes(raw)
        return SUCCESS


def _peer(event: Any) -> str:
    requestor = event.assoc.requestor
    return f"{requestor.ae_title}@{requestor.address}:{requestor.port}"
