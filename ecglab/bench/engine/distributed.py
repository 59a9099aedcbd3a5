"""Where a run executes: one process, or one rank of a ``torchrun`` job (DistributedDataParallel), with the
barrier and broadcast the engine needs. Rank 0 evaluates and writes the run folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

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
