"""Data augmentation on the device: random affine distortions and elastic distortions of whole batches.

    distort = Augmenter(cfg.data.augment, background=-mean / std, device=x.device, seed=7)
    x = distort(x)          # (N, 1, 28, 28) -> (N, 1, 28, 28), each image with its own distortion

Every image of a batch gets its own shift, rotation and scale (one affine grid per image) and,
with `elastic`, a smooth random displacement field as in Simard, Steinkraus and Platt (2003):
uniform noise in [-1, 1] per pixel, smoothed by a Gaussian of `elastic_sigma` pixels and scaled
by `elastic` (alpha, in pixels). One grid_sample call applies both; the affine grid is three
multiply-adds per pixel. Random numbers come from a generator on the batch's device, seeded, so
a run is repeatable and no batch goes through the CPU.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from mlcl_train.config.schema import Augment

KINDS = ("shift", "rotate", "scale", "elastic")  # the keys of data.augment that switch a distortion on


def enabled(spec: Augment) -> bool:
    """Whether data.augment asks for any distortion."""
    return any(getattr(spec, kind) for kind in KINDS)


class Augmenter:
    """Distorts batches of normalized images; `background` is the normalized value of a blank pixel."""

    def __init__(self, spec: Augment, background: float, device: "torch.device", seed: int) -> None:
        import torch

        self.spec = spec
        self.background = background
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.kernel = gaussian_kernel(spec.elastic_sigma, device) if spec.elastic else None

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch.nn.functional as F

        n, _, h, w = x.shape
        grid = affine_grid(self.affine(n, h, w, x.device), h, w)
        if self.kernel is not None:
            grid = grid + self.elastic(n, h, w, x.device)
        # zero padding means background after the shift: blank pixels enter at the borders
        out = F.grid_sample(x - self.background, grid.permute(0, 2, 3, 1), mode="bilinear", padding_mode="zeros",
                            align_corners=False)
        return out + self.background

    def affine(self, n: int, h: int, w: int, device: "torch.device") -> "torch.Tensor":
        """(n, 2, 3): per image, the map from output to input coordinates (both in [-1, 1])."""
        import torch

        u = torch.rand(n, 4, device=device, generator=self.generator) * 2 - 1  # uniform in [-1, 1)
        angle = u[:, 0] * math.radians(self.spec.rotate)
        zoom = 1 + u[:, 1] * self.spec.scale
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # sampling 1/zoom as far draws zoom times larger
        shift_x = u[:, 2] * (2 * self.spec.shift / w)  # a pixel is 2/w wide in grid coordinates
        shift_y = u[:, 3] * (2 * self.spec.shift / h)
        return torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)

    def elastic(self, n: int, h: int, w: int, device: "torch.device") -> "torch.Tensor":
        """(n, 2, h, w): smoothed random displacements (x, y), alpha pixels strong, in grid coordinates."""
        import torch
        import torch.nn.functional as F

        field = torch.rand(n, 2, h, w, device=device, generator=self.generator) * 2 - 1
        k = self.kernel
        pad = k.shape[-1] // 2
        field = F.conv2d(field, k.view(1, 1, 1, -1).expand(2, 1, 1, -1), padding=(0, pad), groups=2)  # along x
        field = F.conv2d(field, k.view(1, 1, -1, 1).expand(2, 1, -1, 1), padding=(pad, 0), groups=2)  # along y
        alpha = self.spec.elastic
        field[:, 0].mul_(alpha * 2 / w)  # pixels -> grid coordinates (scalars: no copy from the host)
        field[:, 1].mul_(alpha * 2 / h)
        return field


def affine_grid(theta: "torch.Tensor", h: int, w: int) -> "torch.Tensor":
    """(n, 2, h, w): where each output pixel samples its input (x, y), as F.affine_grid with
    align_corners=False gives them (a test compares the two); three multiply-adds per pixel,
    where F.affine_grid's batched matrix product costs about five times as long on a CPU."""
    import torch

    xs = (torch.arange(w, dtype=theta.dtype, device=theta.device) * 2 + 1) / w - 1  # pixel centers in [-1, 1]
    ys = (torch.arange(h, dtype=theta.dtype, device=theta.device) * 2 + 1) / h - 1
    t = theta[:, :, :, None, None]  # (n, 2, 3, 1, 1)
    return t[:, :, 0] * xs + t[:, :, 1] * ys[:, None] + t[:, :, 2]


def gaussian_kernel(sigma: float, device: "torch.device") -> "torch.Tensor":
    """A normalized 1-D Gaussian, 3 sigma either side (at most 27 taps: the image is 28 wide)."""
    import torch

    radius = min(13, max(1, math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()
