"""Source instances: DICOM files and folders are read; anything else is refused with one sentence."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.dicom.source import dicom_sources
from nmkit.errors import InputError


def test_folder_in_name_order_and_type2_attributes_added(studies):
    sources = dicom_sources(studies["pet"])
    assert [ds.InstanceNumber for ds in sources] == list(range(1, 13))
    chest = dicom_sources(studies["chest"])[0]
    assert chest.StudyID == "" and chest.PatientBirthDate == ""


def test_non_dicom_input_is_refused(tmp_path):
    np.save(tmp_path / "flood.npy", np.ones((4, 4)))
    with pytest.raises(InputError, match=r"flood.npy: is not DICOM, so --dicom-out has no patient and study"):
        dicom_sources(tmp_path / "flood.npy")
