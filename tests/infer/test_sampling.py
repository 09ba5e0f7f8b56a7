"""Sampling: each logits processor does what its paper or OpenAI's reference says."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.infer.sampling import SamplingParams, sample
from scalable_ai.infer.sequence import TokenSequence
from tests.infer.conftest import make_engine

GREEDY = SamplingParams(temperature=0.0, max_tokens=24, ignore_eos=True)


def _seq(params: SamplingParams, prompt=(1, 2), output=()) -> TokenSequence:
    seq = TokenSequence("r", 0, list(prompt), params)
    for token in output:
        seq.append_token(token)
    return seq


def _text(engine, prompt, params):
    engine.add_request(prompt, params, request_id="t")
    text, reason = "", None
    while engine.has_unfinished_requests():
        for out in engine.step():
            for choice in out.choices:
                text += choice.text
                reason = choice.finish_reason or reason
    return text, reason


def test_temperature_zero_is_greedy_and_top_k_1_top_p_tiny_min_p_1_agree():
    prompt = "Once upon a time"
    greedy = make_engine().generate([prompt], GREEDY)[0][0]
    for narrow in ({"top_k": 1}, {"top_p": 1e-6}, {"min_p": 1.0}):
        params = SamplingParams(temperature=1.0, max_tokens=24, ignore_eos=True, seed=3, **narrow)
        assert make_engine().generate([prompt], params)[0][0] == greedy


def test_stop_strings_end_the_text_before_the_stop_string():
    full, _ = _text(make_engine(), "abc", GREEDY)
    stop = full[10:13]
    text, reason = _text(
        make_engine(),
        "abc",
        SamplingParams(temperature=0.0, max_tokens=24, ignore_eos=True, stop=[stop]),
    )
    assert text == full[: full.index(stop)]
    assert reason == "stop"


def test_stop_tokens_finish_with_reason_stop_and_max_tokens_with_length():
    greedy = make_engine().generate(["abc"], GREEDY)[0][0]
    params = SamplingParams(temperature=0.0, max_tokens=24, stop_token_ids=[greedy[4]])
    stopped = make_engine().generate(["abc"], params)[0][0]
    assert stopped == greedy[: greedy.index(greedy[4]) + 1]
    _, reason = _text(make_engine(), "abc", GREEDY)
    assert reason == "length"


def test_repetition_presence_and_frequency_penalties_lower_seen_tokens():
    logits = torch.tensor([[2.0, -1.0, 1.0, 0.5]])
    params = SamplingParams(temperature=0.0, repetition_penalty=4.0)
    assert sample(logits, [_seq(params, prompt=[0])])[0].token_id == 2  # 2.0 / 4 < 1.0
    params = SamplingParams(temperature=0.0, frequency_penalty=0.6)
    assert sample(logits, [_seq(params, output=[0, 0])])[0].token_id == 2  # 2 - 1.2 < 1
    params = SamplingParams(temperature=0.0, presence_penalty=1.5)
    assert sample(logits, [_seq(params, output=[0])])[0].token_id == 2  # 2 - 1.5 < 1


def test_logprobs_are_the_models_log_softmax_with_top_alternatives():
    logits = torch.tensor([[3.0, 1.0, 2.0, 0.0]])
    params = SamplingParams(temperature=0.0, logprobs=2)
    token = sample(logits, [_seq(params)])[0]
    expected = logits.log_softmax(-1)[0]
    assert token.token_id == 0
    assert token.logprob == pytest.approx(float(expected[0]))
    assert [t for t, _ in token.top_logprobs] == [0, 2]


def test_a_seed_makes_sampling_reproducible_per_request():
    params = SamplingParams(temperature=1.0, max_tokens=16, ignore_eos=True, seed=11)
    first = make_engine().generate(["seeded"], params)
    assert make_engine().generate(["seeded"], params) == first
    other = SamplingParams(temperature=1.0, max_tokens=16, ignore_eos=True, seed=12)
    assert make_engine().generate(["seeded"], other) != first


@pytest.mark.parametrize(
    "field,value",
    [("temperature", 3.0), ("top_p", 0.0), ("n", 0), ("max_tokens", 0), ("logprobs", 21)],
)
def test_out_of_range_sampling_fields_are_named_in_the_error(field, value):
    with pytest.raises(UserError) as error:
        SamplingParams(**{field: value})
    assert error.value.field == field


class _BytePieceTokenizer:
    """Bytes 0..255 as GPT-2's printable characters in a Hugging Face byte-level BPE (no
    merges), ``<eos>`` = 256: the decoder our GGUF tokenizers use, at the tiny model's ids."""

    def __init__(self, concatenates: bool) -> None:
        from tokenizers import AddedToken, decoders, models
        from tokenizers import Tokenizer as HFTokenizer

        printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
        chars = {b: chr(b) for b in printable}
        chars.update({b: chr(256 + i) for i, b in enumerate(sorted(set(range(256)) - set(chars)))})
        self.backend = HFTokenizer(models.BPE({chars[b]: b for b in range(256)}, []))
        self.backend.decoder = decoders.ByteLevel()
        self.backend.add_special_tokens([AddedToken("<eos>", special=True)])
        self.decodes_by_concatenation = concatenates

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self.backend.decode(ids, skip_special_tokens=skip_special_tokens)


def test_incremental_detokenization_streams_what_decoding_the_whole_output_streams():
    """Multi-byte characters split across tokens (random bytes from a tiny model) stream the
    same deltas whether each step decodes only the unsettled tokens or the whole output."""
    from scalable_ai.infer.engine import EngineConfig, LLMEngine, decodes_by_concatenation
    from tests.infer.conftest import EOS, tiny_model

    params = SamplingParams(temperature=1.0, max_tokens=40, n=2, seed=5, stop=["zz"])
    streams = []
    for concatenates in (True, False):
        tokenizer = _BytePieceTokenizer(concatenates)
        assert decodes_by_concatenation(tokenizer) is concatenates
        config = EngineConfig(max_model_len=256, num_blocks=128, block_size=4)
        engine = LLMEngine(tiny_model(), tokenizer, config, eos_token_ids=[EOS])
        for prompt in ("héllo wörld", "日本語", "abc"):
            engine.add_request(prompt, params)
        deltas, ids = [], {}
        while engine.has_unfinished_requests():
            for out in engine.step():
                for choice in out.choices:
                    deltas.append((out.request_id, choice.index, choice.text))
                    ids.setdefault((out.request_id, choice.index), []).extend(choice.token_ids)
        streams.append(deltas)
    assert streams[0] == streams[1]
    assert any("\ufffd" in tokenizer.decode([i]) for t in ids.values() for i in t)


def test_inverse_cdf_draw_picks_each_token_with_its_share_of_the_weight():
    """The sampler's draw (one uniform number per row against the float64 CDF, in blocks on
    wide rows) maps [0, 1) onto the tokens in proportion to their weights; zero never wins."""
    from scalable_ai.infer.sampling import draw

    torch.manual_seed(0)
    for width in (300, 5000):  # one level, and two levels with a padded last block
        weights = torch.rand(width) ** 4
        weights[::3] = 0.0
        weights[-7:] = 0.0
        grid = (torch.arange(2048, dtype=torch.float64) + 0.5) / 2048
        picked = draw(weights.unsqueeze(0).repeat(2048, 1), grid)
        cdf = weights.double().cumsum(0) / weights.double().sum()
        expected = torch.searchsorted(cdf, grid, right=True)
        assert (weights[picked] > 0).all()
        # Float32 block sums may move a boundary by ~1e-8: only there may the two disagree.
        differ = (picked != expected).nonzero().squeeze(1)
        assert all((cdf - grid[i]).abs().min() < 1e-6 for i in differ)
        assert len(differ) <= 2
