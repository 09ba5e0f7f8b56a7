"""KV-cached generation: greedy, sampling cuts, seeds, stop strings, streaming text."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.model.generate import SamplingParams, complete, generate_ids, sample_next
from scalable_ai.model.tokenizer import StreamDecoder
from scalable_ai.model.transformer import Transformer


@pytest.fixture
def tiny_model(make_tiny_config):
    torch.manual_seed(0)
    return Transformer(make_tiny_config()).eval()


def test_cached_greedy_equals_recomputing_the_whole_sequence(tiny_model):
    prompt = [3, 14, 15, 9, 2]
    cached = list(generate_ids(tiny_model, prompt, SamplingParams(max_new_tokens=10,
                                                                  temperature=0)))
    sequence = list(prompt)
    with torch.no_grad():
        for _ in range(10):
            sequence.append(int(tiny_model(torch.tensor([sequence]))[0, -1].argmax()))
    assert cached == sequence[len(prompt):]


def test_top_k_of_one_is_greedy():
    logits = torch.randn(4, 50)
    picked = sample_next(logits, SamplingParams(temperature=1.5, top_k=1))
    assert torch.equal(picked, logits.argmax(-1))


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    generator = torch.Generator().manual_seed(0)
    draws = {int(sample_next(logits, SamplingParams(temperature=1.0, top_p=0.8), generator))
             for _ in range(200)}
    assert draws == {0, 1}


def test_a_seed_makes_sampling_reproducible(tiny_model):
    params = SamplingParams(max_new_tokens=12, temperature=1.0, seed=7)
    first = list(generate_ids(tiny_model, [1, 2, 3], params))
    assert first == list(generate_ids(tiny_model, [1, 2, 3], params))


def test_stop_ids_end_generation_unshown(tiny_model):
    greedy = SamplingParams(max_new_tokens=10, temperature=0)
    tokens = list(generate_ids(tiny_model, [5, 6], greedy))
    assert list(generate_ids(tiny_model, [5, 6], greedy, stop_ids={tokens[3]})) == tokens[
        :tokens.index(tokens[3])]


def test_bad_sampling_settings_name_their_field():
    with pytest.raises(UserError) as error:
        SamplingParams(top_p=0).validate()
    assert error.value.field == "top_p"


@pytest.mark.slow
def test_stop_strings_cut_the_completion(smollm2):
    model, tokenizer = smollm2
    greedy = SamplingParams(max_new_tokens=16, temperature=0)
    full = complete(model, tokenizer, "One, two, three, four,", greedy)
    assert " six" in full
    stopped = complete(model, tokenizer, "One, two, three, four,",
                       SamplingParams(max_new_tokens=16, temperature=0, stop=(" six",)))
    assert stopped == full[:full.index(" six")]


def test_stream_decoder_never_splits_a_character(smollm2_tokenizer):
    text = "emoji 🤖 and 日本語"
    decoder = StreamDecoder(smollm2_tokenizer)
    pieces = [decoder.push(token) for token in smollm2_tokenizer.encode(text)]
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_text_that_may_begin_a_stop_string_is_held_back():
    from scalable_ai.model.generate import _held_back

    assert _held_back("the end is ne", ("near",)) == 2
    assert _held_back("the end is near", ("xyz",)) == 0
    assert _held_back("ab", ("abc", "b")) == 2
