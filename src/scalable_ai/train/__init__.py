"""Pre-training: the trainer loop, its optimizers and checkpoints (assignment A2)."""
