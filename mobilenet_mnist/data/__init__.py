"""MNIST-family data sets, preprocessing of user images, and training augmentation."""

from .augment import AugmentConfig, augment_batch
from .datasets import (
    DATASETS,
    ImageTensors,
    create_transform,
    load_dataset,
    preprocess,
    read_idx,
    resize_normalize,
    train_val_split,
)

__all__ = [
    "DATASETS",
    "AugmentConfig",
    "ImageTensors",
    "augment_batch",
    "create_transform",
    "load_dataset",
    "preprocess",
    "read_idx",
    "resize_normalize",
    "train_val_split",
]
