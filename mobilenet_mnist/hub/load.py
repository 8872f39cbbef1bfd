"""Rebuilding a saved model, with its weights, from a folder, file, Hub repo or registered name."""

from __future__ import annotations

import os
from pathlib import Path

from ..models.builder import fetch_checkpoint, load_pretrained, model_from_checkpoint
from ..models.mobilenet import MobileNetV1

__all__ = ["from_pretrained", "load_model_by_name"]


def from_pretrained(
    repo_id_or_folder: str | os.PathLike[str],
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    *,
    token: str | None = None,
) -> MobileNetV1:
    """Rebuild a model, with its weights, from a saved folder, file, Hub repo or registered name.

    The network is built from the checkpoint's ``config.json`` (``architecture`` and
    ``model_args``), or the file's own metadata, or the registry entry; then
    :func:`~mobilenet_mnist.models.builder.load_pretrained` fills it. A folder's
    ``config.json`` pins the weights' size and sha256: a changed file is refused.

    Example:
        >>> model = from_pretrained("path/to/folder").eval()  # doctest: +SKIP

    Args:
        repo_id_or_folder: A folder written by :func:`~mobilenet_mnist.hub.save.save_pretrained`,
            a ``.safetensors`` file written by it, a Hub repo id (``"user/repo"``) or a
            registered name (``"mobilenet_v1_100.mnist"``).
        revision: Hub revision (branch, tag or commit); default ``"main"``.
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``).
        token: Hub token for private repos.

    Returns:
        The model in training mode, ``pretrained_cfg`` filled from the checkpoint.

    Raises:
        As :func:`~mobilenet_mnist.models.builder.load_pretrained`.
    """
    weights = fetch_checkpoint(repo_id_or_folder, revision=revision, cache_dir=cache_dir, token=token)
    return load_pretrained(model_from_checkpoint(weights), weights)


def load_model_by_name(name: str | os.PathLike[str]) -> MobileNetV1:
    """A model with weights, from whatever names it: what ``mobilenet-mnist --model NAME`` takes.

    * a local folder or ``.safetensors`` file, or a Hub repo id (``"user/repo"``):
      :func:`from_pretrained`;
    * a registered model name, with or without a weight tag (``"mobilenet_v1_050"``,
      ``"mobilenet_v1_050.mnist"``): :func:`~mobilenet_mnist.create_model` with
      ``pretrained=True`` (a mistyped name gets a "did you mean");
    * anything else (e.g. weights registered under another model name): :func:`from_pretrained`.

    Example:
        >>> model = load_model_by_name("mobilenet_v1_100.mnist").eval()  # doctest: +SKIP

    Args:
        name: The name, path or repo id.

    Returns:
        The model in training mode (call ``.eval()`` for inference).

    Raises:
        TypeError: If ``name`` is not a str or path.
        KeyError: For unknown weights (with the closest registered names).
        WeightsUnavailableError: If the weights can be neither found nor downloaded.
    """
    from ..models.factory import create_model, list_models

    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(
            "name must be a registered weight name (e.g. 'mobilenet_v1_100.mnist'), a folder, a file or a "
            f"Hub repo id, got {type(name).__name__}."
        )
    text = os.fspath(name)
    if Path(text).exists() or ("/" in text and "." not in text.split("/")[0]):
        return from_pretrained(text)
    if text.partition(".")[0] in list_models():
        return create_model(text, pretrained=True)
    return from_pretrained(text)
