"""MNIST-family data sets, preprocessing of user images and real digits, and training augmentation."""

from .augment import AugmentConfig, augment_batch
from .convert import tensors_from_dataset
from .datasets import DATASETS, ImageTensors, load_dataset, read_idx, train_val_split
from .digits import BlankImageError, normalize_digits, normalize_digits_with_quality, prepare_digits
from .transforms import create_transform, open_image, pil_to_array, preprocess, resize_normalize, to_batch

__all__ = [
    "DATASETS",
    "AugmentConfig",
    "BlankImageError",
    "ImageTensors",
    "augment_batch",
    "create_transform",
    "load_dataset",
    "normalize_digits",
    "normalize_digits_with_quality",
    "open_image",
    "pil_to_array",
    "prepare_digits",
    "preprocess",
    "read_idx",
    "resize_normalize",
    "tensors_from_dataset",
    "to_batch",
    "train_val_split",
]
