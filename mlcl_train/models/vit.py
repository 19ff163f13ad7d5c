"""A small Vision Transformer (Dosovitskiy et al., 2021) for 28x28 inputs.

    model: {name: vit, patch: 7, dim: 64, depth: 4, heads: 4, mlp_ratio: 2.0}
"""

from __future__ import annotations

from typing import Any

from mlcl_train.core.errors import UserError
from mlcl_train.core.values import Positive, PositiveInt, Probability
from mlcl_train.models import register_model
from mlcl_train.models.layers import Output, check_patch, make_output


@register_model
def vit(
    patch: PositiveInt = 7,
    dim: PositiveInt = 64,
    depth: PositiveInt = 4,
    heads: PositiveInt = 4,
    mlp_ratio: Positive = 2.0,
    dropout: Probability = 0.0,
    output: Output = "logits",
) -> Any:
    """Vision Transformer: patch embedding, class token, learned positions, `depth` pre-norm encoder blocks."""
    check_patch(patch)
    if dim % heads:
        raise UserError(f"model.dim: {dim} is not divisible by model.heads {heads}; each head gets dim/heads "
                        "features, so make dim a multiple of heads")
    from mlcl_train.models._modules import VisionTransformer

    mlp_hidden = max(1, round(dim * mlp_ratio))
    return VisionTransformer(patch, dim, depth, heads, mlp_hidden, dropout, make_output(output))
