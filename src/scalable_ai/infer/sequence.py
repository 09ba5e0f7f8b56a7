"""One generated sequence: its tokens, how many of them are in the KV cache, and its blocks.

A request with ``n`` choices owns ``n`` sequences. The scheduler moves sequences between
*waiting* and *running*; the runner reads ``token_ids[num_computed:]`` as the step's new
tokens; the engine appends sampled tokens and decides when a sequence is finished.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

import torch

from scalable_ai.infer.grammar import Constraint
from scalable_ai.infer.sampling import SamplingParams

_next_sequence_id = itertools.count()


class SequenceStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class TokenSequence:
    """A prompt and what has been generated after it, with its place in the paged KV cache."""

    request_id: str
    index: int
    prompt_token_ids: list[int]
    params: SamplingParams
    arrival_time: float = 0.0
    seq_id: int = field(default_factory=lambda: next(_next_sequence_id))
    output_token_ids: list[int] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    status: SequenceStatus = SequenceStatus.WAITING
    #: Tokens whose keys and values are already in the cache (computed or hit in the prefix cache).
    num_computed: int = 0
    #: Prompt tokens found in the prefix cache at the first admission (for ``usage``).
    num_cached_prompt_tokens: int = -1
    block_table: list[int] = field(default_factory=list)
    #: Chained hashes of this sequence's full blocks that are registered in the prefix cache.
    block_hashes: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    generator: torch.Generator | None = None
    #: Where the output stands in the request's grammar (constrained decoding), else None.
    constraint: Constraint | None = None
    #: The LoRA adapter this sequence runs with (``lora.LoraAdapter.id``), 0 for the base model.
    lora_id: int = 0
    #: The draft model's distributions at this step's drafted positions (``draft.py``).
    draft_probs: torch.Tensor | None = None
    num_preemptions: int = 0
    # Streaming state (the engine's detokenizer):
    text: str = ""
    #: The first ``num_settled_tokens`` output tokens decode to ``settled_text``, which ends on
    #: a whole character, so later tokens' text can be decoded alone and appended.
    num_settled_tokens: int = 0
    settled_text: str = ""
    #: Token ids that end this sequence (its own stop ids, plus EOS unless ignored).
    stop_ids: frozenset[int] = frozenset()
    num_text_sent: int = 0
    num_tokens_sent: int = 0
    logprobs: list[dict] = field(default_factory=list)
    first_token_time: float | None = None
    last_token_time: float | None = None

    def __post_init__(self) -> None:
        if not self.token_ids:
            self.token_ids = list(self.prompt_token_ids)
        if self.params.seed is not None:
            self.generator = torch.Generator().manual_seed(self.params.seed + self.index)

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def is_finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def append_token(self, token_id: int) -> None:
        self.output_token_ids.append(token_id)
        self.token_ids.append(token_id)
