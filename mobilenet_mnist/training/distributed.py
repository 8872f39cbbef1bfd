"""Process-group setup for data-parallel training under ``torchrun`` (DDP).

Outside ``torchrun`` everything here is a no-op, so the training loop has one code path.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["DistContext", "get_dist_context"]

logger = logging.getLogger(__name__)
_REQUIRED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly single-process) training job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    sync_bn: bool = False

    @property
    def enabled(self) -> bool:
        """True when running with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only rank 0 logs, evaluates and writes files."""
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """Wrap in DistributedDataParallel when distributed (optionally with SyncBatchNorm)."""
        if not self.enabled:
            return model
        if self.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [self.local_rank] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.enabled:
            torch.distributed.barrier()


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"Environment variable {name}={value!r} must be an integer.") from error


def get_dist_context(sync_bn: bool = False) -> DistContext:
    """Read torchrun's environment and initialise the process group once.

    gloo is used on the CPU and NCCL on CUDA.

    Args:
        sync_bn: Convert BatchNorm to SyncBatchNorm when wrapping a model for several processes.

    Raises:
        TypeError: If ``sync_bn`` is not a bool.
        ValueError: If a torchrun environment variable is not an integer.
        RuntimeError: If the torchrun environment is incomplete or inconsistent.
    """
    if not isinstance(sync_bn, bool):
        raise TypeError(f"sync_bn must be True or False, got {sync_bn!r}.")
    if "WORLD_SIZE" not in os.environ or _env_int("WORLD_SIZE") <= 1:
        return DistContext(sync_bn=sync_bn)
    missing = [name for name in _REQUIRED_ENV if name not in os.environ]
    if missing:
        raise RuntimeError(
            f"Distributed environment incomplete: {missing} not set. Launch with "
            "`torchrun --nproc_per_node=N -m mobilenet_mnist.cli train ...`."
        )
    rank, world, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    if not 0 <= rank < world:
        raise RuntimeError(f"RANK={rank} is outside [0, WORLD_SIZE={world}).")
    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if not torch.distributed.is_initialized():
        if use_cuda:
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo")
        logger.info("Initialised process group: rank %d of %d on %s", rank, world, device)
    return DistContext(rank, world, local, device, sync_bn)
