"""Assignment A1: data, fully sharded, tensor, pipeline, expert and context parallel training
on PyTorch's own distributed stack, applied to a model from outside (``parallelize.py``), a
planner (``planner.py``) and a launcher for a reservation's hostfile (``launch.py``)."""
