"""Getting weights into a ``Transformer``: GGUF files, Hugging Face safetensors, our checkpoints."""

from scalable_ai.model.load.gguf import read_gguf
from scalable_ai.model.load.safetensors import build_model, load_checkpoint, save_checkpoint

__all__ = ["build_model", "load_checkpoint", "read_gguf", "save_checkpoint"]
