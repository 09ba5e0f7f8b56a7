"""Post-training (assignment A3): chat data, SFT with LoRA, reward models, DPO, GRPO.

``chat.py`` turns conversations into token ids with the model's own chat template and a
mask that trains only the assistant's tokens, and packs them into rows; ``sft.py``,
``reward.py`` and ``dpo.py`` train on them (``sai sft``, ``sai rm``, ``sai dpo``).
"""
