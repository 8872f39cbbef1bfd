"""Run under torchrun by test_distributed.py: a few DDP steps on synthetic digits.

Each rank writes its final parameters to OUT/rank<r>.safetensors so the test can
check that the replicas agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from test_train import TINY, synthetic_digits

from mobilenet_mnist.models import create_model
from mobilenet_mnist.training import TrainConfig, fit


def main(out: Path, stop_after: int, resume: bool) -> None:
    cfg = TrainConfig.from_dict({**TINY, "epochs": 2, "batch_size": 16, "max_steps_per_epoch": 3})
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model)
    result = fit(model, synthetic_digits(96), cfg, synthetic_digits(20, seed=1), out, resume, stop_after)
    rank = torch.distributed.get_rank()
    params = {name: p.detach().contiguous() for name, p in result.model.named_parameters()}
    save_file(params, str(out / f"rank{rank}.safetensors"))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "resume")
