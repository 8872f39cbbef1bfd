"""Publishing a model to the Hugging Face Hub as a model repo (weights, config, card)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..models.config import CONFIG_NAME, read_config
from ..models.mobilenet import MobileNetV1
from ..models.pretrained_cfg import is_repo_id
from .save import save_pretrained

__all__ = ["push_to_hub"]


def push_to_hub(
    model: MobileNetV1,
    repo_id: str,
    *,
    revision: str | None = None,
    commit_message: str | None = None,
    private: bool = False,
    token: str | None = None,
    create_pr: bool = False,
    **meta: Any,
) -> Any:
    """Publish ``model`` to the Hugging Face Hub as a model repo (weights, config, card).

    Creates the repo if needed (and the branch ``revision``), writes the folder with
    :func:`~mobilenet_mnist.hub.save.save_pretrained` into a temporary directory and uploads
    it in one commit.

    Args:
        model: The model to publish.
        repo_id: ``"user/name"`` or ``"org/name"``.
        revision: Branch to commit to (created if missing); default ``"main"``.
        commit_message: Commit message; default ``"Upload <name>"``.
        private: Create the repo as private.
        token: Hub token; default: the logged-in token (``hf auth login``).
        create_pr: Open a pull request instead of committing directly.
        **meta: Passed to ``save_pretrained`` (``metrics``, ``dataset``, ``labels``, ...).

    Returns:
        The ``huggingface_hub.CommitInfo`` of the upload.

    Raises:
        ValueError: If ``repo_id`` is not of the form ``"owner/name"``.
    """
    from huggingface_hub import HfApi

    if not is_repo_id(repo_id):
        raise ValueError(f"repo_id must look like 'user/name', got {repo_id!r}.")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
    with tempfile.TemporaryDirectory(prefix="mobilenet-mnist-push-") as tmp:
        save_pretrained(model, tmp, repo_id=repo_id, **meta)
        saved = read_config(Path(tmp) / CONFIG_NAME)
        name = saved.record.name if saved.record else saved.architecture
        return api.upload_folder(
            repo_id=repo_id, folder_path=tmp, repo_type="model", revision=revision,
            commit_message=commit_message or f"Upload {name}", create_pr=create_pr,
        )
