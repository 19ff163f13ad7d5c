"""A model class of your own, named in a config as `my_models.py:TinyNet` (see tiny.yaml and docs/models.md)."""

import torch
from torch import nn


class TinyNet(nn.Module):
    """Two 3x3 convolutions and a linear layer."""

    def __init__(self, width: int = 16, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)               # (N, width, 28, 28)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, stride=2)  # (N, width, 14, 14)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(width * 14 * 14, 10)                      # (N, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc1(self.drop(x.flatten(1)))
