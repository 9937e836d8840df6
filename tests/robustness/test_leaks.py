"""Item 8: what the server stores and returns names the model by name and sha256, never by a path."""

from __future__ import annotations

import hashlib
import json

from nmkit.workflows.qc.analyse import default_model_path

from .conftest import client_for, flood, post, strings


def test_a_qc_result_names_the_model_by_name_and_sha256_not_its_path(settings, tmp_path):
    client = client_for(settings)
    body = post(client, "/api/qc", flood(tmp_path / "flood.dcm").read_bytes(), name="flood.dcm").json()
    stored = json.loads(client.get(f"/api/analyses/{body['id']}/files/result.json").content)
    sha = hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    assert body["result"]["model"] == f"qc-compact (qc-default.pt, sha256:{sha})" or \
        body["result"]["model"].endswith(f"(qc-default.pt, sha256:{sha})")
    for document in (body, stored):
        leaked = [s for s in strings(document) if "/" in s and s.split("/")[0] in ("", ".", "..")]
        assert leaked == [], leaked
        assert str(default_model_path().parent) not in json.dumps(document)
        assert str(settings.data_dir) not in json.dumps(document)
