"""Every benchmark script still runs: each on a tiny set (--smoke), writing only under tmp_path."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from nmkit.models import create_model, save_bundle

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "src" / "nmkit" / "workflows"


def run(monkeypatch, script: str, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", [f"benchmarks/{script}.py", *args])
    importlib.import_module(script).main()


def section(out: Path, key: str) -> str:
    text = (out / "BENCHMARKS.md").read_text()
    return text[text.index(f"<!-- {key}:begin -->"):text.index(f"<!-- {key}:end -->")]


def test_a_smoke_run_never_writes_into_the_repository(monkeypatch):
    with pytest.raises(SystemExit, match="--smoke needs --out"):
        run(monkeypatch, "web", "--smoke")


def test_qc(monkeypatch, tmp_path):
    run(monkeypatch, "qc", "--smoke", "--out", str(tmp_path), "--model", str(SHIPPED / "qc/default_model/qc-default.pt"))
    text = section(tmp_path, "qc")
    assert "| 98 | " in text and "| CNN - observer AUC | verdict |" in text and (tmp_path / "qc.json").is_file()
    assert "CNN against the ideal observer, AUC over the" in text


def test_qc_default_model(monkeypatch, tmp_path):
    run(monkeypatch, "qc_default_model", "--smoke", "--out", str(tmp_path), "--model",
        str(SHIPPED / "qc/default_model/qc-default.pt"))
    assert "## Test sets" in (tmp_path / "MODEL_CARD.md").read_text()


def test_gbp(monkeypatch, tmp_path):
    run(monkeypatch, "gbp", "--smoke", "--out", str(tmp_path), "--model", str(SHIPPED / "gbp/default_model/gbp-default.pt"))
    text = section(tmp_path, "gbp")
    assert "phantom decomposition of the same 3 test studies" in text and "95 % CI" in text


def test_bonescan(monkeypatch, tmp_path):
    run(monkeypatch, "bonescan", "--smoke", "--out", str(tmp_path), "--model",
        str(SHIPPED / "bonescan/default_model/bonescan-default.pt"))
    assert "crop centres sit at columns 64 and" in section(tmp_path, "bonescan")


def all_lung_segmenter(tmp_path: Path) -> Path:
    """A tiny untrained rds segmenter bundle that calls every pixel lung, so every step has a mask to use."""
    torch.manual_seed(0)
    unet = {"depth": 3, "work_size": 32, "decoder_width": 8}
    segmenter = create_model("rds-unet-small", **unet).eval()
    with torch.no_grad():
        segmenter.net.segmentation_head[0].weight.zero_()
        segmenter.net.segmentation_head[0].bias.copy_(torch.tensor([-10.0, 10.0]))
    return save_bundle(tmp_path / "seg.pt", "rds-unet-small", unet, segmenter, {"config": {"task": "segmentation"}})


def test_rds(monkeypatch, tmp_path):
    cnn = {"width": 4, "work_size": 32}
    seg = all_lung_segmenter(tmp_path)
    torch.manual_seed(0)
    lungs = save_bundle(tmp_path / "lungs.pt", "rds-cnn-small", cnn, create_model("rds-cnn-small", **cnn),
                        {"config": {"task": "classification", "data": {"input": "lungs"}}})
    run(monkeypatch, "rds", "--smoke", "--out", str(tmp_path / "out"), "--model", str(seg), "--model", str(lungs))
    text = section(tmp_path / "out", "rds")
    assert "rotation TTA ran on" in text and "Where it acts: 2 phantom radiographs turned" in text


def test_rds_real_validate_scores_the_validation_phantoms_only(monkeypatch, tmp_path, capsys):
    from nmkit.phantoms.chest import ChestSpec, generate_chest_xray

    rds_real = importlib.import_module("rds_real")
    monkeypatch.setattr(rds_real, "VALIDATION_N", 1)
    monkeypatch.setattr(rds_real, "DATA", tmp_path / "no-real-radiographs")  # --validate reads none
    seg = all_lung_segmenter(tmp_path)
    grey = tmp_path / "grey.png"  # an unlabelled radiograph stand-in, to look at
    PIL.Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))).save(grey)
    monkeypatch.setattr(rds_real, "unlabelled_radiographs", lambda: {"grey": grey})
    run(monkeypatch, "rds_real", "--validate", str(seg), "--overlays", str(tmp_path / "looks"))
    assert sorted(p.name for p in (tmp_path / "looks").iterdir()) == [f"grey.{tmp_path.name}.png"]
    shown = dict(zip(*[iter(capsys.readouterr().out.split()[1:])] * 2))
    for style, seed in rds_real.VALIDATION_SETS.items():  # every pixel called lung: Dice 2|T| / (|T| + |image|)
        shares = [generate_chest_xray(ChestSpec(shape=(256, 256), style=style), seed, i).lung_mask.mean()
                  for i in range(1)]
        assert float(shown[f"{style}_dice"]) == pytest.approx(np.mean([2 * t / (t + 1) for t in shares]), abs=1e-4)
    assert float(shown["simple_miou"]) == pytest.approx(np.mean(shares) / 2, abs=1e-4)  # background IoU 0


def test_pet(monkeypatch, tmp_path):
    torch.manual_seed(0)
    bundles = {}
    for method in ("pix2pix", "cyclegan"):
        kwargs = {"base": 4, "depth": 2}
        bundles[method] = save_bundle(tmp_path / f"{method}.pt", "pet-unet-generator", kwargs,
                                      create_model("pet-unet-generator", **kwargs), {"config": {"gan": {"method": method}}})
    run(monkeypatch, "pet", "--smoke", "--out", str(tmp_path / "out"), "--pix2pix", str(bundles["pix2pix"]),
        "--cyclegan", str(bundles["cyclegan"]))
    text = section(tmp_path / "out", "pet")
    assert "4 standard phantom patients" in text and "| SSIM | " in text and "seed 606060" in text


def test_web(monkeypatch, tmp_path):
    run(monkeypatch, "web", "--smoke", "--out", str(tmp_path))
    assert "answered / lost / mixed up | **2 / 0 / 0**" in section(tmp_path, "web")


def test_web_counts_lost_and_mixed_up_answers():
    web = importlib.import_module("web")
    files = [Path("a.dcm"), Path("b.dcm"), Path("c.dcm")]
    expected = {f.name: dict.fromkeys(web.FIGURES, 1.0) for f in files}
    answers = [(0.1, {"file": "a.dcm", "result": expected["a.dcm"]}), (0.1, None),
               (0.1, {"file": "a.dcm", "result": expected["a.dcm"]})]  # c.dcm got a.dcm's answer
    assert web.tally(files, answers, expected) == {"answered": 1, "lost": 1, "mixed_up": 1}
