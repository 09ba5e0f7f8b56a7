"""Given code (no TODO here): the lab stack pieces A3 builds on, at CPU size.

``micro_model`` is the course's Transformer at the size of the lab stack's own tests;
``preference_pairs`` a fixed set of (prompt, chosen, rejected) token sequences as label
tensors, the same on every call.
"""

from __future__ import annotations

import torch

from scalable_ai.model import Transformer
from scalable_ai.parallel.run import micro_config

IGNORE_INDEX = -100


def micro_model(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(micro_config())


def preference_pairs(pairs: int = 8, prompt: int = 6, answer: int = 6, seed: int = 0):  # type: ignore[no-untyped-def]
    """(chosen_ids, chosen_labels, rejected_ids, rejected_labels), each (pairs, prompt+answer):
    the same prompts, the chosen answer counts up from the prompt's last token, the rejected
    one is random; labels train only the answer's tokens."""
    generator = torch.Generator().manual_seed(seed)
    prompts = torch.randint(0, 200, (pairs, prompt), generator=generator)
    chosen_answer = (prompts[:, -1:] + torch.arange(1, answer + 1)) % 256
    rejected_answer = torch.randint(0, 256, (pairs, answer), generator=generator)
    out = []
    for answer_ids in (chosen_answer, rejected_answer):
        ids = torch.cat([prompts, answer_ids], dim=1)
        labels = torch.full_like(ids, IGNORE_INDEX)
        labels[:, prompt - 1 : -1] = answer_ids  # position t predicts token t + 1
        out += [ids, labels]
    return tuple(out)
