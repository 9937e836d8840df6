"""A predicted PET volume as a derived PT series: one instance per slice on the source series' geometry.

Each slice copies its source slice (patient, study, frame of reference, position, orientation, spacing, the
radiopharmaceutical and patient-weight tags) and stores the prediction in Bq/mL: SUVbw divided by the source
series' SUV factor, as uint16 with the slice's own RescaleSlope. Because the SUV tags are the source's, reading
the series back as SUVbw (``nmkit.io.pet.read_pet_suv``) gives the predicted SUVbw to within one stored step.
New series and instance UIDs, ImageType DERIVED, the model in DerivationDescription.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import DSfloat

from nmkit.atomic import atomic_dir
from nmkit.dicom.results import ModelIdentity, references
from nmkit.errors import InputError
from nmkit.io.dicom_write import derived_uid
from nmkit.io.pet import _slice_position

SERIES_NUMBER = 904
DROPPED = ("PixelData", "LargestImagePixelValue", "SmallestImagePixelValue", "WindowCenter", "WindowWidth",
           "WindowCenterWidthExplanation", "LossyImageCompression", "LossyImageCompressionRatio",
           "LossyImageCompressionMethod")


def sorted_slices(sources: list[Dataset]) -> list[Dataset]:
    """PT slices in the order ``read_pet_suv`` stacks them (along the slice normal, else InstanceNumber)."""
    return sorted(sources, key=_slice_position)


def derived_slice(source: Dataset, bq_per_ml: np.ndarray, model: ModelIdentity, description: str) -> Dataset:
    """One derived PT instance: ``source`` with new pixels (Bq/mL, >= 0), UIDs and derivation."""
    ds = Dataset()
    for element in source:
        if element.keyword not in DROPPED:
            ds.add(copy.deepcopy(element))
    peak = float(bq_per_ml.max())
    slope = peak / 65535 if peak > 0 else 1.0
    stored = np.rint(np.clip(bq_per_ml, 0, None) / slope).astype("<u2")
    key = (model.sha256, str(source.SeriesInstanceUID))
    ds.SeriesInstanceUID = derived_uid("pt-series", *key)
    ds.SOPInstanceUID = derived_uid("pt-sop", *key, str(source.SOPInstanceUID))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    image_type = list(source.get("ImageType") or ["ORIGINAL", "PRIMARY"])
    ds.ImageType = ["DERIVED", *image_type[1:]]
    ds.SeriesNumber, ds.SeriesDescription = SERIES_NUMBER, description[:64]
    ds.DerivationDescription = (f"{description} from this early series by nmkit model {model.name} "
                                f"({model.version}, sha256 {model.sha256})")[:1024]
    ds.SourceImageSequence = references([source])
    ds.Units = "BQML"
    ds.RescaleSlope, ds.RescaleIntercept = DSfloat(slope, auto_format=True), "0"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = int(stored.shape[0]), int(stored.shape[1])
    ds.PixelData = stored.tobytes()
    return ds


def write_pt_series(folder: str | Path, suv: np.ndarray, sources: list[Dataset], suv_factor: float,
                    model: ModelIdentity, description: str = "nmkit predicted delayed FDG") -> list[Path]:
    """Write ``suv`` (slices, H, W) as a PT series into the new or empty ``folder`` (made atomically), one file per
    slice of ``sources`` (the early series' instances, any order)."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(folder, "already exists and is not an empty folder; give a new folder for the PT series")
    slices = sorted_slices(sources)
    if len(slices) != len(suv) or any(int(ds.get("NumberOfFrames") or 1) != 1 for ds in slices):
        raise InputError(folder, f"a PT series needs one single-frame source instance per slice, but the early "
                                 f"series has {len(slices)} instance(s) for {len(suv)} slices")
    names = []
    with atomic_dir(folder) as tmp:
        for index, (source, plane) in enumerate(zip(slices, suv)):
            ds = derived_slice(source, np.asarray(plane, dtype=np.float64) / suv_factor, model, description)
            name = f"{index + 1:04d}.dcm"
            ds.save_as(tmp / name, enforce_file_format=True)
            names.append(name)
    return [folder / name for name in names]
