"""Optional multi-process training glue (PyTorch DistributedDataParallel), kept apart.

With one process every method is a no-op, so the trainer reads the same either way.
Launched by ``torchrun``, the CLI calls :meth:`Distributed.from_env`, which joins the
process group (gloo on CPU, nccl on CUDA); then

* each rank takes a disjoint shard of every epoch's batches (same count on every rank);
* gradients are averaged by DDP, synchronised only on the last accumulation micro-batch;
* token counts, losses and the stop decision are summed / agreed across ranks;
* rank 0 alone writes checkpoints, logs and TensorBoard.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as torch_dist


class Distributed:
    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank

    @classmethod
    def from_env(cls, device_type: str) -> Distributed:
        """Join the process group described by torchrun's environment variables."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)  # one GPU per process, chosen by torchrun
        if not torch_dist.is_initialized():
            torch_dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        return cls(torch_dist.get_rank(), torch_dist.get_world_size(), local_rank)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        device = next(model.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def no_sync(self, model: torch.nn.Module, enabled: bool):
        if self.enabled and enabled:
            return model.no_sync()
        return contextlib.nullcontext()

    def shard(self, batches: list) -> list:
        """This rank's share of the epoch's batches; every rank gets the same count."""
        if not self.enabled:
            return batches
        usable = len(batches) // self.world_size * self.world_size
        return batches[self.rank:usable:self.world_size]

    def _device(self) -> torch.device:
        backend = torch_dist.get_backend()
        return torch.device("cuda", self.local_rank) if backend == "nccl" else torch.device("cpu")

    def sum(self, value: float) -> float:
        if not self.enabled:
            return value
        tensor = torch.tensor([float(value)], dtype=torch.float64, device=self._device())
        torch_dist.all_reduce(tensor)
        return tensor.item()

    def any(self, flag: bool) -> bool:
        return self.sum(1.0 if flag else 0.0) > 0 if self.enabled else flag

    def max(self, value: float) -> float:
        """The largest ``value`` over all ranks (e.g. elapsed time, so limits agree)."""
        if not self.enabled:
            return value
        tensor = torch.tensor([float(value)], dtype=torch.float64, device=self._device())
        torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.MAX)
        return tensor.item()

    def all_gather_object(self, obj) -> list:
        """Every rank's ``obj``, in rank order (e.g. RNG states for the checkpoint)."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size
        torch_dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj):
        if not self.enabled:
            return obj
        box = [obj]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    def close(self, wait: bool = True) -> None:
        """Leave together (``wait``): rank 0 may still be averaging checkpoints while the
        others are done, and a rank that tears Gloo down while a peer is busy can abort at
        exit ("terminate called without an active exception"). After an error, don't wait
        for peers that may never arrive."""
        if self.enabled and torch_dist.is_initialized():
            if wait:
                torch_dist.barrier()
            torch_dist.destroy_process_group()
