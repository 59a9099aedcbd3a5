"""Where a run executes: one process, or one rank of a ``torchrun`` job (DistributedDataParallel, on one
machine or several), with the collectives the engine needs: a barrier, rank 0's value broadcast, every rank's
part gathered to rank 0, and rank 0's model buffers on every rank. Every rank scores its shard of the
evaluation inputs; rank 0 computes the metrics and writes the run folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def single_process() -> Distributed:
    """One process on the GPU when there is one, else on the CPU."""
    return Distributed(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def distributed() -> Distributed:
    """This process's place: a single process, or (under ``torchrun``) its rank, with the process group
    initialised (NCCL on CUDA, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return single_process()
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return Distributed(rank=dist.get_rank(), world=world, device=device)


def broadcast(value: float, where: Distributed) -> float:
    """Rank 0's ``value`` on every rank."""
    if where.world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return float(box[0])


def all_reduce_sum(tensor: torch.Tensor, where: Distributed) -> torch.Tensor:
    """The sum of every rank's ``tensor`` (same shape on every rank), on every rank; not differentiated."""
    if where.world == 1:
        return tensor
    total = tensor.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def gather_to_main(value: Any, where: Distributed) -> list[Any] | None:
    """Every rank's ``value`` (any picklable object) on rank 0, in rank order; None on the other ranks."""
    if where.world == 1:
        return [value]
    parts: list[Any] | None = [None] * where.world if where.main else None
    dist.gather_object(value, parts, dst=0)
    return parts


def sync_buffers(model: torch.nn.Module, where: Distributed) -> None:
    """Rank 0's buffers (e.g. BatchNorm running statistics, which each rank updates on its own batch) on every
    rank, so that every shard of an evaluation is scored by the same model."""
    if where.world == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)
