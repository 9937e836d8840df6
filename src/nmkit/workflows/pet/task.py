"""PET training tasks (pix2pix, CycleGAN) and the two baselines (identity, global linear kinetic scaling).

Both tasks keep the early -> delayed generator as ``self.model``, so the engine's bundle is that generator;
discriminators (and CycleGAN's delayed -> early generator) live beside it. Optimisation is manual: one
discriminator step, then one generator step per batch, Adam with beta1 0.5 as both papers; with
``optim.decay_epochs`` the learning rates fall linearly to zero over the last epochs (the papers: 100 of 200).
CycleGAN's discriminators see generated images through a history pool (``gan.pool_size``, 50 in the paper).
With ``gan.focal_weight`` pix2pix's L1 weighs small hot spots of the early slice (lesions) more, and with
``gan.lesion_weight`` it adds the L1 averaged over the lesion voxels of the training label maps (phantoms, or a
folder with labels), so that the few lesion voxels are not lost among the body's; neither is in the study, and
neither needs anything at inference.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torch import nn

from nmkit.models import create_model
from nmkit.workflows.pet.data import BODY_SUV, DATASET, PETDataModule  # noqa: F401  (DATASET: read by the engine)

MONITOR = ("val_l1", "min")
METHODS = ("pix2pix", "cyclegan")
GAN_DEFAULTS = {"method": "pix2pix", "lambda_l1": 100.0, "lambda_cycle": 10.0, "lambda_identity": 0.5,
                "pool_size": 50, "focal_weight": 0.0, "lesion_weight": 0.0, "discriminator": {"base": 64, "layers": 3}}
FOCAL_CAP = 0.3  # SUV / 10: focal uptake above 3 SUV weighs no more


def focal_uptake(x: torch.Tensor) -> torch.Tensor:
    """Small hot spots of early slices (N, 1, H, W; SUV / 10): a 1-pixel Gaussian blur minus a 4-pixel one, clipped
    to 0 .. FOCAL_CAP. High on lesion-sized foci, near 0 inside organs and in flat background."""
    fine = TF.gaussian_blur(x, [7, 7], [1.0, 1.0])
    coarse = TF.gaussian_blur(x, [25, 25], [4.0, 4.0])
    return (fine - coarse).clamp(0.0, FOCAL_CAP)


def pix2pix_l1(fake: torch.Tensor, y: torch.Tensor, x: torch.Tensor, focal_weight: float = 0.0,
               lesions: torch.Tensor | None = None, lesion_weight: float = 0.0) -> torch.Tensor:
    """pix2pix's L1 of ``fake`` against ``y``. With ``focal_weight`` each pixel weighs 1 + focal_weight x
    :func:`focal_uptake` of the early slice ``x`` (no labels needed); with ``lesion_weight`` the L1 averaged over
    the lesion voxels alone (``lesions``: 1 there, 0 elsewhere) is added, however few of them a batch holds."""
    error = (fake - y).abs()
    if focal_weight > 0:
        weight = 1.0 + focal_weight * focal_uptake(x)
        loss = (weight * error).sum() / weight.sum()
    else:
        loss = error.mean()
    if lesion_weight > 0 and lesions is not None and bool(lesions.any()):
        loss = loss + lesion_weight * (lesions * error).sum() / lesions.sum()
    return loss


def _adam(params, optim: dict[str, Any]) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=float(optim["lr"]), betas=(float(optim.get("beta1", 0.5)), 0.999))


def linear_decay(max_epochs: int, decay_epochs: int):
    """The papers' schedule as a LambdaLR factor: 1 for the first ``max_epochs - decay_epochs`` epochs, then a
    straight line that reaches 1 / (decay_epochs + 1) in the last epoch."""
    if not 0 <= decay_epochs <= max_epochs:
        raise ValueError(f"optim.decay_epochs must be 0 to max_epochs ({max_epochs}), not {decay_epochs}")
    if decay_epochs == 0:
        return lambda epoch: 1.0
    constant = max_epochs - decay_epochs
    return lambda epoch: 1.0 - max(0, epoch + 1 - constant) / (decay_epochs + 1)


class ImagePool:
    """CycleGAN's history of generated images (Shrivastava et al. 2017). Until ``size`` are stored each fake goes
    to the discriminator and into the pool; after that, with probability 0.5 an older fake goes instead and the
    new one takes its place. ``size`` 0 passes every batch through."""

    def __init__(self, size: int):
        if size < 0:
            raise ValueError(f"gan.pool_size must be >= 0, not {size}")
        self.size = size
        self.images: list[torch.Tensor] = []

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.detach()
        if self.size == 0:
            return batch
        out = []
        for image in batch.split(1):
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()) < 0.5:
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i])
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out)


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

    def _optimizers_and_schedules(self, generators, discriminators):
        opts = [_adam(generators, self.hparams.optim), _adam(discriminators, self.hparams.optim)]
        factor = linear_decay(int(self.trainer.max_epochs or 0), int(self.hparams.optim.get("decay_epochs", 0)))
        return opts, [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in opts]

    def on_train_epoch_end(self):
        schedules = self.lr_schedulers()
        for schedule in schedules if isinstance(schedules, list) else [schedules]:
            schedule.step()

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
        x, y, *lesions = batch
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
        gan = self.hparams.gan
        loss_l1 = pix2pix_l1(fake, y, x, float(gan.get("focal_weight", 0.0)), lesions[0] if lesions else None,
                             float(gan.get("lesion_weight", 0.0)))
        loss_g = loss_gan + float(gan["lambda_l1"]) * loss_l1
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.log_dict({"train_loss_g": loss_g, "train_loss_d": loss_d, "train_l1": loss_l1}, prog_bar=True,
                      on_step=True, on_epoch=True)

    def configure_optimizers(self):
        return self._optimizers_and_schedules(self.model.parameters(), self.discriminator.parameters())


class CycleGANTask(_TranslationTask):
    """Unpaired translation: generators early -> delayed (``model``) and back, a least-squares PatchGAN per domain,
    cycle loss (lambda_cycle) and identity loss (lambda_identity x lambda_cycle)."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], gan: dict[str, Any], optim: dict[str, Any]):
        super().__init__(model_name, model_kwargs, gan, optim)
        self.generator_back = create_model(model_name, **model_kwargs)
        self.discriminator = self._discriminator(1)  # judges delayed slices
        self.discriminator_early = self._discriminator(1)
        self.pool_delayed, self.pool_early = ImagePool(int(gan["pool_size"])), ImagePool(int(gan["pool_size"]))

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
                        + self._lsgan(self.discriminator(self.pool_delayed(fake_delayed)), False)
                        + self._lsgan(self.discriminator_early(early), True)
                        + self._lsgan(self.discriminator_early(self.pool_early(fake_early)), False))
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.log_dict({"train_loss_g": loss_g, "train_loss_d": loss_d, "train_cycle": loss_cycle}, prog_bar=True,
                      on_step=True, on_epoch=True)

    def configure_optimizers(self):
        generators = list(self.model.parameters()) + list(self.generator_back.parameters())
        discriminators = list(self.discriminator.parameters()) + list(self.discriminator_early.parameters())
        return self._optimizers_and_schedules(generators, discriminators)


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
    gan = gan_settings(config)
    return PETDataModule(config["data"], int(config["seed"]), paired=gan["method"] == "pix2pix",
                         lesions=gan["method"] == "pix2pix" and float(gan["lesion_weight"]) > 0)


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
