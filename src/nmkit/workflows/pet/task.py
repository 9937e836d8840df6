"""PET training tasks (pix2pix, CycleGAN) and the two baselines (identity, global linear kinetic scaling).

Both tasks keep the early -> delayed generator as ``self.model``, so the engine's bundle is that generator;
discriminators (and CycleGAN's delayed -> early generator) live beside it. Optimisation is manual: one
discriminator step, then one generator step per batch, Adam with beta1 0.5 as both papers.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nmkit.models import create_model
from nmkit.workflows.pet.data import BODY_SUV, PETDataModule

MONITOR = ("val_l1", "min")
METHODS = ("pix2pix", "cyclegan")
GAN_DEFAULTS = {"method": "pix2pix", "lambda_l1": 100.0, "lambda_cycle": 10.0, "lambda_identity": 0.5,
                "discriminator": {"base": 64, "layers": 3}}


def _adam(params, optim: dict[str, Any]) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=float(optim["lr"]), betas=(float(optim.get("beta1", 0.5)), 0.999))


class _TranslationTask(L.LightningModule):
    """What both tasks share: manual optimisation and validation L1 / PSNR of early -> delayed (SUV / 10)."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], gan: dict[str, Any], optim: dict[str, Any]):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.model: nn.Module = create_model(model_name, **model_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _discriminator(self, in_channels: int) -> nn.Module:
        return create_model("pet-patchgan", in_channels=in_channels, **self.hparams.gan["discriminator"])

    def validation_step(self, batch, batch_idx):
        x, y = batch
        fake = self.model(x)
        mse = F.mse_loss(fake, y)
        self.log("val_l1", F.l1_loss(fake, y), prog_bar=True, sync_dist=True)
        self.log("val_psnr", 10 * torch.log10(1.0 / mse.clamp(min=1e-12)), prog_bar=True, sync_dist=True)


class Pix2PixTask(_TranslationTask):
    """Paired translation: conditional PatchGAN (early, delayed) with BCE, generator loss GAN + lambda_l1 x L1."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], gan: dict[str, Any], optim: dict[str, Any]):
        super().__init__(model_name, model_kwargs, gan, optim)
        self.discriminator = self._discriminator(2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt_g, opt_d = self.optimizers()
        fake = self.model(x)
        real_logits = self.discriminator(torch.cat([x, y], 1))
        fake_logits = self.discriminator(torch.cat([x, fake.detach()], 1))
        loss_d = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                        + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        fake_logits = self.discriminator(torch.cat([x, fake], 1))
        loss_gan = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        loss_l1 = F.l1_loss(fake, y)
        loss_g = loss_gan + float(self.hparams.gan["lambda_l1"]) * loss_l1
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.log_dict({"train_loss_g": loss_g, "train_loss_d": loss_d, "train_l1": loss_l1}, prog_bar=True,
                      on_step=True, on_epoch=True)

    def configure_optimizers(self):
        return [_adam(self.model.parameters(), self.hparams.optim),
                _adam(self.discriminator.parameters(), self.hparams.optim)]


class CycleGANTask(_TranslationTask):
    """Unpaired translation: generators early -> delayed (``model``) and back, a least-squares PatchGAN per domain,
    cycle loss (lambda_cycle) and identity loss (lambda_identity x lambda_cycle)."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], gan: dict[str, Any], optim: dict[str, Any]):
        super().__init__(model_name, model_kwargs, gan, optim)
        self.generator_back = create_model(model_name, **model_kwargs)
        self.discriminator = self._discriminator(1)  # judges delayed slices
        self.discriminator_early = self._discriminator(1)

    @staticmethod
    def _lsgan(logits: torch.Tensor, real: bool) -> torch.Tensor:
        return F.mse_loss(logits, torch.full_like(logits, 1.0 if real else 0.0))

    def training_step(self, batch, batch_idx):
        early, delayed = batch
        opt_g, opt_d = self.optimizers()
        lam_cycle = float(self.hparams.gan["lambda_cycle"])
        lam_identity = float(self.hparams.gan["lambda_identity"]) * lam_cycle
        fake_delayed, fake_early = self.model(early), self.generator_back(delayed)
        loss_gan = (self._lsgan(self.discriminator(fake_delayed), True)
                    + self._lsgan(self.discriminator_early(fake_early), True))
        loss_cycle = (F.l1_loss(self.generator_back(fake_delayed), early)
                      + F.l1_loss(self.model(fake_early), delayed))
        loss_identity = F.l1_loss(self.model(delayed), delayed) + F.l1_loss(self.generator_back(early), early)
        loss_g = loss_gan + lam_cycle * loss_cycle + lam_identity * loss_identity
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        loss_d = 0.5 * (self._lsgan(self.discriminator(delayed), True)
                        + self._lsgan(self.discriminator(fake_delayed.detach()), False)
                        + self._lsgan(self.discriminator_early(early), True)
                        + self._lsgan(self.discriminator_early(fake_early.detach()), False))
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.log_dict({"train_loss_g": loss_g, "train_loss_d": loss_d, "train_cycle": loss_cycle}, prog_bar=True,
                      on_step=True, on_epoch=True)

    def configure_optimizers(self):
        generators = list(self.model.parameters()) + list(self.generator_back.parameters())
        discriminators = list(self.discriminator.parameters()) + list(self.discriminator_early.parameters())
        return [_adam(generators, self.hparams.optim), _adam(discriminators, self.hparams.optim)]


def gan_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The config's ``gan`` section over :data:`GAN_DEFAULTS`; ValueError for an unknown method."""
    gan = GAN_DEFAULTS | dict(config.get("gan") or {})
    gan["discriminator"] = GAN_DEFAULTS["discriminator"] | dict(gan.get("discriminator") or {})
    if gan["method"] not in METHODS:
        raise ValueError(f"gan.method must be one of {', '.join(METHODS)}, not {gan['method']!r}")
    return gan


def build_task(config: dict[str, Any]) -> _TranslationTask:
    """The LightningModule for a pet config (``gan.method``: pix2pix or cyclegan)."""
    gan = gan_settings(config)
    kwargs = {k: v for k, v in config["model"].items() if k != "name"}
    task = Pix2PixTask if gan["method"] == "pix2pix" else CycleGANTask
    return task(config["model"]["name"], kwargs, gan, config["optim"])


def build_datamodule(config: dict[str, Any]) -> PETDataModule:
    """Slice pairs of the patient-level split; unpaired (shuffled delayed slices) for CycleGAN."""
    return PETDataModule(config["data"], int(config["seed"]), paired=gan_settings(config)["method"] == "pix2pix")


def identity_baseline(early: np.ndarray) -> np.ndarray:
    """Delayed = early."""
    return np.asarray(early, dtype=np.float32).copy()


def fit_linear_scaling(early: list[np.ndarray], delayed: list[np.ndarray]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of delayed SUV on early SUV over the body voxels (early > BODY_SUV) of
    the training patients: one global kinetic scaling."""
    x = np.concatenate([e[e > BODY_SUV] for e in early]).astype(np.float64)
    y = np.concatenate([d[e > BODY_SUV] for e, d in zip(early, delayed)]).astype(np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def linear_baseline(early: np.ndarray, coefficients: tuple[float, float]) -> np.ndarray:
    """slope x early + intercept inside the body (early > BODY_SUV), slope x early outside, never below 0."""
    slope, intercept = coefficients
    early = np.asarray(early, dtype=np.float32)
    out = slope * early + np.where(early > BODY_SUV, intercept, 0.0)
    return np.maximum(out, 0.0).astype(np.float32)
