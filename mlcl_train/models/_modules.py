"""nn.Module classes of the model families. This module imports torch: builders import it
inside their body, so that listing and validating models does not."""

from __future__ import annotations

import torch
from torch import nn

from mlcl_train.core.datasets import CHANNELS, IMAGE_SIZE, NUM_CLASSES
from mlcl_train.models.layers import named_sequential


class Residual(nn.Module):
    """after(body(x) + shortcut(x)): the shortcut is the identity, or a projection where shapes differ."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None, after: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.after = after if after is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(self.body(x) + self.shortcut(x))


def to_sequence(x: torch.Tensor, patch: int | None) -> torch.Tensor:
    """(N, C, 28, 28) -> (N, T, D): 28 rows of C*28 pixels, or (28/p)^2 patches of C*p*p pixels in reading order."""
    n, c, h, w = x.shape
    if patch is None:
        return x.permute(0, 2, 1, 3).reshape(n, h, c * w)  # step t = image row t
    x = x.unfold(2, patch, patch).unfold(3, patch, patch)  # (N, C, H/p, W/p, p, p)
    return x.permute(0, 2, 3, 1, 4, 5).reshape(n, (h // patch) * (w // patch), c * patch * patch)


class LastState(nn.Module):
    """The state after reading the whole sequence: the last step forwards, the first step backwards."""

    def __init__(self, hidden: int, directions: int) -> None:
        super().__init__()
        self.hidden, self.directions = hidden, directions

    def forward(self, states: torch.Tensor) -> torch.Tensor:  # (N, T, dirs*H) -> (N, dirs*H)
        forward = states[:, -1, : self.hidden]
        if self.directions == 1:
            return forward
        return torch.cat([forward, states[:, 0, self.hidden :]], dim=1)


class MeanState(nn.Module):
    """The mean of the states over the steps."""

    def forward(self, states: torch.Tensor) -> torch.Tensor:  # (N, T, D) -> (N, D)
        return states.mean(dim=1)


class AttentionPool(nn.Module):
    """Attention with a learned query over the states: weights a = softmax_t score(s_t), context = sum_t a_t s_t.

    additive (Bahdanau): score = v . tanh(W s_t + b), the decoder state folded into the bias b;
    dot (Luong, scaled): score = q . s_t / sqrt(D) with a learned query q.
    """

    def __init__(self, size: int, score: str, attention_dim: int) -> None:
        super().__init__()
        self.score = score
        if score == "additive":
            self.proj = nn.Linear(size, attention_dim)  # W, b
            self.v = nn.Linear(attention_dim, 1, bias=False)
        else:
            self.query = nn.Parameter(torch.randn(size) / size**0.5)
        self.weights: torch.Tensor | None = None  # (N, T): the last batch's attention, kept for plots

    def forward(self, states: torch.Tensor) -> torch.Tensor:  # (N, T, D) -> (N, D)
        if self.score == "additive":
            scores = self.v(torch.tanh(self.proj(states))).squeeze(-1)  # (N, T)
        else:
            scores = states @ self.query / states.shape[-1] ** 0.5  # (N, T)
        weights = scores.softmax(dim=1)
        self.weights = weights.detach()
        return (weights.unsqueeze(-1) * states).sum(dim=1)


class RecurrentClassifier(nn.Module):
    """Reads the image as a sequence with an RNN, pools the top layer's states, classifies."""

    def __init__(self, rnn: nn.Module, patch: int | None, pool: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.patch = patch
        self.rnn, self.pool, self.head = rnn, pool, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(to_sequence(x, self.patch))  # (N, T, D) -> (N, T, dirs*H)
        return self.head(self.pool(states))


class EncoderBlock(nn.Module):
    """Pre-norm Transformer encoder block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = named_sequential([
            ("fc1", nn.Linear(dim, mlp_hidden)), ("act", nn.GELU()), ("drop1", nn.Dropout(dropout)),
            ("fc2", nn.Linear(mlp_hidden, dim)), ("drop2", nn.Dropout(dropout)),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, T, dim) -> (N, T, dim)
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """Patches -> linear embedding + learned positions, a class token, encoder blocks; classify the class token."""

    def __init__(self, patch: int, dim: int, depth: int, heads: int, mlp_hidden: int, dropout: float,
                 output: nn.Module | None) -> None:
        super().__init__()
        tokens = (IMAGE_SIZE // patch) ** 2
        # one linear map per patch: (N, dim, 28/p, 28/p)
        self.patch_embed = nn.Conv2d(CHANNELS, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(EncoderBlock(dim, heads, mlp_hidden, dropout) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, NUM_CLASSES)
        self.output = output if output is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, T, dim), patches in reading order
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = self.drop(torch.cat([cls, x], dim=1) + self.pos_embed)  # (N, T+1, dim)
        x = self.norm(self.blocks(x))
        return self.output(self.head(x[:, 0]))  # the class token: (N, dim) -> (N, 10)
