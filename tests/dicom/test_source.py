"""Source instances: DICOM files and folders are read; anything else is refused with one sentence."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from nmkit.dicom.source import dicom_sources
from nmkit.errors import InputError


def test_folder_in_name_order_and_type2_attributes_added(studies, tmp_path):
    sources = dicom_sources(studies["pet"])
    assert [ds.InstanceNumber for ds in sources] == list(range(1, 13))
    chest = pydicom.dcmread(studies["chest"])
    del chest.StudyID, chest.PatientBirthDate                  # as anonymised studies often lack them
    chest.save_as(tmp_path / "anonymised.dcm")
    anonymised = dicom_sources(tmp_path / "anonymised.dcm")[0]
    assert anonymised.StudyID == "" and anonymised.PatientBirthDate == ""


def test_non_dicom_input_is_refused(tmp_path):
    np.save(tmp_path / "flood.npy", np.ones((4, 4)))
    with pytest.raises(InputError, match=r"flood.npy: is not DICOM, so --dicom-out has no patient and study"):
        dicom_sources(tmp_path / "flood.npy")
