"""Forward: C-STORE result objects to another DICOM node (a PACS) named AET@HOST:PORT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pynetdicom import AE

from nmkit.errors import InputError


@dataclass(frozen=True)
class Destination:
    aet: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``AET@HOST:PORT``; InputError (one sentence) for anything else."""
        aet, _, address = text.partition("@")
        host, _, port = address.rpartition(":")
        if not (aet and host and port.isdigit() and 0 < int(port) < 65536 and len(aet) <= 16):
            raise InputError("--forward", f"{text!r} is not AET@HOST:PORT (an AE title of up to 16 characters, "
                                          "a host, a port)")
        return cls(aet, host, int(port))

    def __str__(self) -> str:
        return f"{self.aet}@{self.host}:{self.port}"


class ForwardError(RuntimeError):
    """The destination could not be reached or did not accept an object; ``str()`` is one sentence."""


def forward(files: list[Path], destination: Destination, calling_aet: str = "NMKIT", timeout_s: float = 10.0) -> int:
    """Send ``files`` in one association; the number stored. ForwardError when it cannot be done."""
    if not files:
        return 0
    datasets = [pydicom.dcmread(path) for path in files]
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    for uid in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(uid)
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.aet)
    if not assoc.is_established:
        raise ForwardError(f"could not open an association with {destination} (unreachable, or it refused us)")
    stored = 0
    try:
        for path, ds in zip(files, datasets):
            status = assoc.send_c_store(ds)
            if not status or status.Status != 0x0000:
                code = f"0x{status.Status:04X}" if status else "no answer"
                raise ForwardError(f"{destination} did not store {path.name} (status {code})")
            stored += 1
    finally:
        assoc.release()
    return stored
