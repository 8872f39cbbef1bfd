"""Hugging Face layout: save and load model folders, model cards, push and publish.

Loading weights into a model (:func:`load_pretrained`), the :class:`WeightsUnavailableError`
it raises and the ``config.json`` content (:func:`model_config`) live in
:mod:`mobilenet_mnist.models`; they are exported here too, beside the publishing side.
"""

from ..models.builder import load_pretrained
from ..models.config import model_config
from ..models.sources import WeightsUnavailableError
from .load import from_pretrained
from .push import push_to_hub
from .save import save_pretrained

__all__ = [
    "WeightsUnavailableError",
    "from_pretrained",
    "load_pretrained",
    "model_config",
    "push_to_hub",
    "save_pretrained",
]
