"""Scale-out on existing engines: torch.distributed (torchrun, DDP) for training
(:mod:`neurodeploy.distributed.ddp`) and Ray for sharded evaluation and sweeps
(:mod:`neurodeploy.distributed.ray_tasks`). Without them, every path is the single-process one."""
