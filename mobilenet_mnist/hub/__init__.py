"""Hugging Face layout: save and load model folders, model cards, push and publish."""

from .core import WeightsUnavailableError, from_pretrained, load_pretrained, model_config, push_to_hub, save_pretrained

__all__ = [
    "WeightsUnavailableError",
    "from_pretrained",
    "load_pretrained",
    "model_config",
    "push_to_hub",
    "save_pretrained",
]
