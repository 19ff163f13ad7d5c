"""Data: the IDX reader, the bundled MNIST, splits as tensors on the device, batches, augmentation."""
