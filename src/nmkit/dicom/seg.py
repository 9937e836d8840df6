"""DICOM Segmentation (binary SEG) of an analysis' masks on its source frames, built with highdicom.

highdicom builds a SEG of a multi-frame source only when the source has a frame of reference, which planar
NM (a flood, a gated blood-pool study) has not. So highdicom builds the SEG of the first source frame, seen as a
single-frame image, and :func:`_extend_to_frames` repeats its per-frame description for every source frame, each
referring to its own source frame (ReferencedFrameNumber, or its own instance), with the frame's time slot as
a second dimension (TemporalPositionIndex) when there are several.
"""

from __future__ import annotations

import copy
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import pack_bits
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

import nmkit
from nmkit.dicom.results import Concept, DicomResults, content_key, quiet, references, save
from nmkit.io.dicom_write import derived_uid

SERIES_NUMBER = 901
FrameRef = tuple[str, str, "int | None"]  # (SOP class, SOP instance, frame number in a multi-frame source)


def coded(concept: Concept) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(concept.code, concept.scheme, concept.meaning)


def frame_references(sources: list[Dataset]) -> list[FrameRef]:
    """One reference per source frame: each frame of a multi-frame source, or each single-frame source."""
    refs: list[FrameRef] = []
    for ds in sources:
        frames = int(ds.get("NumberOfFrames") or 1)
        refs += [(str(ds.SOPClassUID), str(ds.SOPInstanceUID), i + 1 if "NumberOfFrames" in ds else None)
                 for i in range(frames)]
    return refs


def _single_frame_view(source: Dataset) -> Dataset:
    """``source``'s first frame as a single-frame Secondary Capture with the same patient, study and pixels'
    description, which is what highdicom needs to build the SEG of a planar image."""
    view = Dataset()
    for element in source:
        if element.keyword not in ("NumberOfFrames", "FrameIncrementPointer", "PixelData", "FrameOfReferenceUID"):
            view.add(copy.deepcopy(element))
    view.file_meta = Dataset()
    view.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    view.SOPClassUID = SecondaryCaptureImageStorage
    view.PixelData = bytes(int(source.Rows) * int(source.Columns) * int(source.get("BitsAllocated", 16)) // 8)
    return view


def build_segmentation(results: DicomResults) -> hd.seg.Segmentation:
    """The binary SEG of ``results.segments`` (each mask (frames, rows, cols), one frame per source frame)."""
    refs = frame_references(results.sources)
    masks = np.stack([np.asarray(s.mask, dtype=bool).reshape(-1, *s.mask.shape[-2:]) for s in results.segments],
                     axis=-1)
    if masks.shape[0] != len(refs):
        raise ValueError(f"the masks have {masks.shape[0]} frames but the sources {len(refs)}")
    algorithm = hd.AlgorithmIdentificationSequence(
        name=results.model.name, version=results.model.version,
        family=hd.sr.CodedConcept("123110", "DCM", "Artificial Intelligence"))
    descriptions = [hd.seg.SegmentDescription(
        segment_number=i + 1, segment_label=s.label, segmented_property_category=coded(s.category),
        segmented_property_type=coded(s.kind), algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm) for i, s in enumerate(results.segments)]
    key = content_key(results, "seg")
    with quiet():
        seg = hd.seg.Segmentation(
            source_images=[_single_frame_view(results.sources[0])], pixel_array=masks[:1],
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
            series_instance_uid=derived_uid("series", *key), series_number=SERIES_NUMBER,
            sop_instance_uid=derived_uid("sop", *key), instance_number=1, manufacturer="nmkit",
            manufacturer_model_name=results.model.name, software_versions=nmkit.__version__,
            device_serial_number=results.model.sha256[:64], omit_empty_frames=False,
            series_description=f"nmkit SEG {results.title.meaning}"[:64])
    _extend_to_frames(seg, masks, refs, results.sources)
    return seg


def _extend_to_frames(seg: Dataset, masks: np.ndarray, refs: list[FrameRef], sources: list[Dataset]) -> None:
    """Turn highdicom's SEG of the first source frame into one of every frame (segment-major frame order)."""
    n_frames, n_segments = masks.shape[0], masks.shape[-1]
    template = list(seg.PerFrameFunctionalGroupsSequence)
    items = []
    for s in range(n_segments):
        for f, (sop_class, sop_uid, frame_number) in enumerate(refs):
            item = copy.deepcopy(template[s])
            source = item.DerivationImageSequence[0].SourceImageSequence[0]
            source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID = sop_class, sop_uid
            if frame_number is not None:
                source.ReferencedFrameNumber = frame_number
            if n_frames > 1:
                item.FrameContentSequence[0].DimensionIndexValues = [s + 1, f + 1]
                item.FrameContentSequence[0].TemporalPositionIndex = f + 1
            items.append(item)
    if n_frames > 1:
        slot = Dataset()
        slot.DimensionOrganizationUID = seg.DimensionIndexSequence[0].DimensionOrganizationUID
        slot.DimensionIndexPointer = Tag("TemporalPositionIndex")
        slot.FunctionalGroupPointer = Tag("FrameContentSequence")
        slot.DimensionDescriptionLabel = "Time slot"
        seg.DimensionIndexSequence.append(slot)
    seg.PerFrameFunctionalGroupsSequence = Sequence(items)
    seg.NumberOfFrames = len(items)
    seg.PixelData = pack_bits(np.moveaxis(masks, -1, 0).reshape(-1, *masks.shape[1:3]))
    seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence = references(sources)
    seg.SourceImageSequence = references(sources)
    seg.PatientOrientation = sources[0].get("PatientOrientation", "")


def write_segmentation(results: DicomResults, path: str | Path) -> Path:
    """Build the SEG of ``results`` and write it to ``path`` atomically."""
    return save(build_segmentation(results), path)
