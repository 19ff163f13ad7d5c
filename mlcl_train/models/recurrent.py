"""Recurrent nets that read the image as a sequence: 28 rows of 28 pixels, or patches.

    model: {name: rnn, cell: lstm, hidden: 128, pool: last}
    model: {name: attention_rnn, cell: gru, bidirectional: true, score: additive}
"""

from __future__ import annotations

from typing import Any, Literal

from mlcl_train.core.values import PositiveInt, Probability
from mlcl_train.models import register_model
from mlcl_train.models.layers import Output, check_patch, make_output, named_sequential

Cell = Literal["rnn", "lstm", "gru"]  # rnn: the plain tanh cell


@register_model
def rnn(
    cell: Cell = "lstm",
    hidden: PositiveInt = 128,
    layers: PositiveInt = 1,
    bidirectional: bool = False,
    patch: PositiveInt | None = None,
    pool: Literal["last", "mean"] = "last",
    dropout: Probability = 0.0,
    output: Output = "logits",
) -> Any:
    """Recurrent net over the image's rows (or patch x patch patches); classifies the last state or the mean state."""
    check_patch(patch)
    from mlcl_train.models._modules import LastState, MeanState

    pooling = LastState(hidden, 2 if bidirectional else 1) if pool == "last" else MeanState()
    return _classifier(cell, hidden, layers, bidirectional, patch, pooling, dropout, output)


@register_model
def attention_rnn(
    cell: Cell = "lstm",
    hidden: PositiveInt = 128,
    layers: PositiveInt = 1,
    bidirectional: bool = False,
    patch: PositiveInt | None = None,
    score: Literal["additive", "dot"] = "additive",
    attention_dim: PositiveInt = 64,
    dropout: Probability = 0.0,
    output: Output = "logits",
) -> Any:
    """Recurrent net with attention pooling: a learned query weighs all states (seq2seq attention, as a classifier)."""
    check_patch(patch)
    from mlcl_train.models._modules import AttentionPool

    size = hidden * (2 if bidirectional else 1)
    pooling = AttentionPool(size, score, attention_dim)  # attention_dim: the additive score's hidden size
    return _classifier(cell, hidden, layers, bidirectional, patch, pooling, dropout, output)


def _classifier(cell: str, hidden: int, layers: int, bidirectional: bool, patch: int | None,
                pooling: Any, dropout: float, output: str) -> Any:
    """The RNN over the sequence, the pooling, then dropout and a linear layer to 10 scores."""
    from torch import nn

    from mlcl_train.core.datasets import CHANNELS, IMAGE_SIZE, NUM_CLASSES
    from mlcl_train.models._modules import RecurrentClassifier

    rnn_class = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    step = CHANNELS * (IMAGE_SIZE if patch is None else patch * patch)  # pixels per step
    recurrent = rnn_class(step, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
                          dropout=dropout if layers > 1 else 0.0)  # dropout between stacked layers
    head = named_sequential([
        ("drop", nn.Dropout(dropout) if dropout > 0 else None),
        ("out", nn.Linear(hidden * (2 if bidirectional else 1), NUM_CLASSES)),
        (output, make_output(output)),
    ])
    return RecurrentClassifier(recurrent, patch, pooling, head)
