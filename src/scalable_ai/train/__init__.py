"""Pre-training: the trainer loop (``trainer.py``), its config and presets, its optimizers
(``optim/``) and checkpoints with exact resume (assignment A2)."""
