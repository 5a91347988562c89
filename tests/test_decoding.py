"""Search semantics on a hand-scripted toy model (exact hypotheses and scores), and
invariants on a random Transformer (beam 1 == greedy, batch == one by one)."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

import pytest
import torch

from hanyi.config import DecodeConfig
from hanyi.decoding import beam_search, greedy_search, search
from hanyi.decoding.constraints import loop_end, looping
from hanyi.errors import Cancelled
from hanyi.model.transformer import SpecialIds, StepOutput

PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4


@dataclass
class ToyCache:
    tokens: torch.Tensor  # (N, t) every token fed so far

    def select(self, index):
        return ToyCache(self.tokens.index_select(0, index))


class ScriptedModel:
    """Next-token probabilities looked up from the prefix (without <s>). Anything not in
    the script ends the sentence (EOS certain). Uses exactly the interface search needs."""

    tgt_ids = SpecialIds(PAD, BOS, EOS)

    def __init__(self, script: dict[tuple, dict[int, float]], default=None):
        self.script, self.default = script, default or {EOS: 1.0}

    def encode(self, src):
        return src.float().unsqueeze(-1), src != PAD  # (B, S, 1), (B, S)

    def decode_step(self, tgt, memory, src_padding, cache, need_weights=False):
        tokens = tgt if cache is None else torch.cat([cache.tokens, tgt], 1)
        rows = []
        for prefix in tokens[:, 1:].tolist():
            probs = self.script.get(tuple(prefix), self.default)
            row = torch.full((5,), float("-inf"))
            for token, p in probs.items():
                row[token] = math.log(p) if p > 0 else float("-inf")
            rows.append(row)
        return StepOutput(torch.stack(rows), ToyCache(tokens), None)


SCRIPT = {
    (): {A: 0.6, B: 0.4},
    (A,): {EOS: 0.4, A: 0.35, B: 0.25},
    (B,): {EOS: 0.9, A: 0.05, B: 0.05},
}
SRC = torch.tensor([[5, 6, 7]])


def cfg(**kw) -> DecodeConfig:
    base = dict(beam_size=1, nbest=1, length_penalty=0.0, max_len_a=0.0, max_len_b=10)
    return DecodeConfig(**{**base, **kw})


def test_greedy_takes_the_locally_best_token():
    (hyp,), = greedy_search(ScriptedModel(SCRIPT), SRC, cfg())
    assert hyp.tokens == [A]
    assert hyp.log_prob == pytest.approx(math.log(0.6 * 0.4))


def test_beam_finds_the_better_sentence_greedy_misses():
    hyps, = beam_search(ScriptedModel(SCRIPT), SRC, cfg(beam_size=2, nbest=2))
    assert [h.tokens for h in hyps] == [[B], [A]]
    assert [h.log_prob for h in hyps] == pytest.approx([math.log(0.36), math.log(0.24)])


@pytest.mark.parametrize("alpha, order", [(0.0, [[B], [A], [A, A]]), (1.0, [[B], [A, A], [A]])])
def test_length_penalty_reranks_finished_hypotheses(alpha, order):
    hyps, = beam_search(ScriptedModel(SCRIPT), SRC, cfg(beam_size=3, nbest=3,
                                                        length_penalty=alpha))
    assert [h.tokens for h in hyps] == order
    probs = {(B,): 0.36, (A,): 0.24, (A, A): 0.6 * 0.35}
    for h in hyps:  # score = log P / (tokens incl. EOS) ** alpha
        expected = math.log(probs[tuple(h.tokens)]) / (len(h.tokens) + 1) ** alpha
        assert h.score == pytest.approx(expected)


def test_eos_is_never_the_first_token():
    model = ScriptedModel({(): {EOS: 0.9, A: 0.1}})
    for decode in (cfg(), cfg(beam_size=2)):
        assert search(model, SRC, decode)[0][0].tokens == [A]


@pytest.mark.parametrize("beam", [1, 2])
def test_unk_is_never_generated(beam):
    """<unk> would print as "⁇": a model whose vocabulary names one never writes it, even
    where it is the most probable token (here B plays <unk>)."""
    model = ScriptedModel({(): {B: 0.7, A: 0.3}, (B,): {EOS: 1.0}, (A,): {EOS: 1.0}})
    assert search(model, SRC, cfg(beam_size=beam))[0][0].tokens == [B]
    model.tgt_ids = SpecialIds(PAD, BOS, EOS, unk=B)
    hyps, = search(model, SRC, cfg(beam_size=beam, nbest=beam))
    assert [h.tokens for h in hyps] == [[A]]  # the only hypothesis without it


@pytest.mark.parametrize("beam", [1, 3])
def test_length_cap_forces_eos(beam):
    never_stops = ScriptedModel({}, default={A: 0.7, B: 0.3})
    hyps, = search(never_stops, SRC, cfg(beam_size=beam, max_len_a=1.0, max_len_b=2))
    assert len(hyps[0].tokens) == 3 * 1 + 2 - 1  # a*S + b tokens, the last one EOS


@pytest.mark.parametrize("n, expected", [(0, [A, A, A, A]), (1, [A, B]), (2, [A, A, B, A])])
def test_no_repeat_ngram(n, expected):
    loves_a = ScriptedModel({}, default={A: 0.9, B: 0.06, EOS: 0.04})
    hyps, = greedy_search(loves_a, SRC, cfg(max_len_b=5, no_repeat_ngram_size=n))
    assert hyps[0].tokens == expected


def test_nbest_is_sorted_and_bounded():
    hyps, = beam_search(ScriptedModel(SCRIPT), SRC, cfg(beam_size=3, nbest=2))
    assert len(hyps) == 2 and hyps[0].score >= hyps[1].score


def chaotic(random_model):
    """Scale the weights so a random model's outputs are not all the same token.

    In float64: the scaled model's logits reach ~100, where float32 kernels that block
    differently for another batch size or length differ by ~1e-4 in log-probability,
    which is rounding, not a search bug. In float64 any real difference stands out.
    """
    with torch.no_grad():
        for p in random_model.parameters():
            p.mul_(4)
    return random_model.double()


def test_beam_of_one_equals_greedy(random_model):
    model = chaotic(random_model)
    torch.manual_seed(3)
    src = torch.randint(4, 30, (4, 7))
    src[2, 4:] = model.src_ids.pad
    decode = cfg(max_len_a=1.0, max_len_b=4, length_penalty=1.0)
    greedy = greedy_search(model, src, decode)
    beam = beam_search(model, src, decode)
    for g, b in zip(greedy, beam, strict=True):
        assert g[0].tokens == b[0].tokens
        assert g[0].score == pytest.approx(b[0].score, abs=1e-4)


@pytest.mark.parametrize("beam", [1, 4])
def test_batch_decoding_equals_one_by_one(random_model, beam):
    model = chaotic(random_model)
    torch.manual_seed(4)
    lengths = [7, 3, 5]
    src = torch.full((3, 7), model.src_ids.pad)
    for row, n in enumerate(lengths):
        src[row, :n] = torch.randint(4, 30, (n,))
    decode = cfg(beam_size=beam, max_len_a=1.0, max_len_b=4)
    together = search(model, src, decode)
    for row, n in enumerate(lengths):
        alone = search(model, src[row:row + 1, :n], decode)
        assert alone[0][0].tokens == together[row][0].tokens
        assert alone[0][0].score == pytest.approx(together[row][0].score, abs=1e-4)


def test_attention_follows_the_chosen_hypothesis(random_model):
    src = torch.randint(4, 30, (2, 6))
    for beam in (1, 3):
        hyps = search(random_model, src, cfg(beam_size=beam, max_len_b=5), need_attention=True)
        for sentence in hyps:
            h = sentence[0]
            assert h.attention.shape == (len(h.tokens) + 1, 2, 4, 6)  # (T+EOS, L, H, S)


# A vocabulary so small that, after <pad>/<s>/</s> are banned at step 0, fewer than 2·K
# candidates are possible: the search must never finish an impossible (-inf) candidate.
TWO_WAYS = {(): {A: 0.6, B: 0.4}, (A,): {EOS: 0.5, A: 0.5}, (B,): {EOS: 0.5, B: 0.5}}


def test_beam_never_finishes_impossible_candidates():
    hyps, = beam_search(ScriptedModel(TWO_WAYS), SRC, cfg(beam_size=4, nbest=4))
    # A·EOS = 0.3 ties A·A·EOS = 0.6·0.5·1; then B·EOS = B·B·EOS = 0.2
    assert sorted(tuple(h.tokens) for h in hyps[:2]) == [(A,), (A, A)]
    assert sorted(tuple(h.tokens) for h in hyps[2:]) == [(B,), (B, B)]
    assert [h.log_prob for h in hyps] == pytest.approx([math.log(p) for p in (.3, .3, .2, .2)])


def test_beam_stops_when_no_live_beam_can_finish():
    # cap of 2 tokens (EOS included): only A·EOS and B·EOS exist; the search must end with
    # those two instead of padding the n-best with impossible hypotheses (or looping).
    hyps, = beam_search(ScriptedModel(TWO_WAYS), SRC, cfg(beam_size=4, nbest=4, max_len_b=2))
    assert [h.tokens for h in hyps] == [[A], [B]]
    assert [h.log_prob for h in hyps] == pytest.approx([math.log(0.3), math.log(0.2)])


def test_capped_hypothesis_score_counts_the_forced_eos_as_certain():
    never_stops = ScriptedModel({}, default={A: 0.7, B: 0.3})
    for decode in (cfg(max_len_b=5), cfg(beam_size=2, max_len_b=5)):
        hyp = search(never_stops, SRC, decode)[0][0]
        assert hyp.tokens == [A] * 4  # 4 tokens + the forced EOS = the cap of 5
        assert hyp.log_prob == pytest.approx(4 * math.log(0.7))


def test_eos_ends_a_hypothesis_and_is_not_in_its_tokens():
    hyps, = beam_search(ScriptedModel(SCRIPT), SRC, cfg(beam_size=2, nbest=2))
    assert all(EOS not in h.tokens and BOS not in h.tokens for h in hyps)
    (hyp,), = greedy_search(ScriptedModel(SCRIPT), SRC, cfg())
    assert EOS not in hyp.tokens


@pytest.mark.parametrize("beam", [1, 3])
def test_no_repeat_ngram_holds_in_every_hypothesis(beam):
    loves_a = ScriptedModel({}, default={A: 0.9, B: 0.06, EOS: 0.04})
    hyps, = search(loves_a, SRC, cfg(beam_size=beam, nbest=beam, max_len_b=7,
                                     no_repeat_ngram_size=2))
    for h in hyps:
        bigrams = list(itertools.pairwise(h.tokens))
        assert len(bigrams) == len(set(bigrams)), h.tokens


@pytest.mark.parametrize("beam", [1, 3])
def test_the_absolute_output_cap_holds_whatever_a_and_b_say(beam):
    never_stops = ScriptedModel({}, default={A: 0.7, B: 0.3})
    decode = cfg(beam_size=beam, max_len_a=50.0, max_len_b=500, max_output_tokens=6,
                 stop_loops=False)
    hyps, = search(never_stops, SRC, decode)
    assert len(hyps[0].tokens) == 6 - 1  # the cap counts EOS


def alternating(period: list[int], length: int = 60) -> dict:
    """A script that repeats ``period`` forever (it never emits EOS itself)."""
    seq = [period[i % len(period)] for i in range(length)]
    return {tuple(seq[:i]): {seq[i]: 1.0} for i in range(length)}


@pytest.mark.parametrize("beam", [1, 2])
@pytest.mark.parametrize("period, kept", [([A], 8), ([A, B], 8), ([A, B, B], 9),
                                          ([A, A, B, A, B], 15)])
def test_a_hypothesis_caught_in_a_loop_is_ended(beam, period, kept):
    """The rule of constraints.LOOP_REPEATS: R copies of a p-gram in a row end the
    hypothesis; without it the search runs to the length cap."""
    model = ScriptedModel(alternating(period))
    long = dict(beam_size=beam, max_len_a=0.0, max_len_b=50)
    hyps, = search(model, SRC, cfg(**long))
    assert len(hyps[0].tokens) == kept
    hyps, = search(model, SRC, cfg(**long, stop_loops=False))
    assert len(hyps[0].tokens) == 49


def test_no_loop_is_seen_in_ordinary_repetition():
    tokens = torch.tensor([[A] * 7 + [B], [A, B] * 3 + [B, A], [A, B, B, A, B, B, A, B]])
    assert not looping(tokens).any()
    assert looping(torch.tensor([[B] + [A] * 8, [B] + [A, B] * 4])).all()


@pytest.mark.parametrize("beam", [1, 3])
def test_a_search_stops_between_steps_when_cancelled(beam):
    never_stops = ScriptedModel({}, default={A: 0.7, B: 0.3})
    asked = []

    def cancel_after_three():
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(Cancelled):
        search(never_stops, SRC, cfg(beam_size=beam, max_len_b=50, stop_loops=False),
               cancel=cancel_after_three)
    assert len(asked) == 4  # asked before each step: three steps ran
    hyps, = search(never_stops, SRC, cfg(beam_size=beam, max_len_b=5), cancel=lambda: False)
    assert len(hyps[0].tokens) == 4


def test_loop_end_is_where_the_search_stops():
    """What CTranslate2's output is cut to equals where our own search ends the loop."""
    for period, kept in (([A], 8), ([A, B], 8), ([A, B, B], 9)):
        model = ScriptedModel(alternating(period))
        hyps, = search(model, SRC, cfg(max_len_a=0.0, max_len_b=50, stop_loops=False))
        assert loop_end(hyps[0].tokens) == kept
    assert loop_end([A, B, A, B, B, A]) is None


def test_loop_end_agrees_with_looping():
    """The list version of the loop rule equals the tensor one (:func:`looping` on every
    prefix), on random outputs over few tokens, where loops of every period occur."""
    rng = random.Random(7)
    found = set()
    for _ in range(300):
        period = rng.choice([1, 2, 3, 5, 8])
        tokens = [rng.randrange(3) for _ in range(rng.randrange(0, 20))]
        tokens += [rng.randrange(2) for _ in range(period)] * rng.randrange(1, 9)
        tokens += [rng.randrange(3) for _ in range(rng.randrange(0, 5))]
        expected = next((end for end in range(1, len(tokens) + 1)
                         if looping(torch.tensor([tokens[:end]])).item()), None)
        assert loop_end(tokens) == expected, tokens
        found.add(expected is None)
    assert found == {True, False}  # both kinds of output were drawn


# --- sampling instead of the most probable token (decoding/sampling.py) -----------------

def sample(**kw) -> DecodeConfig:
    return cfg(sampling_topk=0, **kw)


def first_tokens(model, n: int, **kw) -> list[int]:
    """The first token of n copies of SRC, decoded together (one draw each)."""
    hyps = greedy_search(model, SRC.expand(n, -1), sample(**kw))
    return [h[0].tokens[0] for h in hyps]


@pytest.mark.parametrize("temperature, p_a", [(1.0, 0.6), (0.5, 0.36 / 0.52), (2.0, None)])
def test_sampling_draws_from_the_tempered_distribution(temperature, p_a):
    """P(A) = 0.6 at the first step; at temperature T the draw sees P ** (1/T), renormalised
    (T = 0.5: 0.36 / (0.36 + 0.16); T = 2: sqrt .6 / (sqrt .6 + sqrt .4))."""
    if p_a is None:
        p_a = math.sqrt(0.6) / (math.sqrt(0.6) + math.sqrt(0.4))
    drawn = first_tokens(ScriptedModel(SCRIPT), 4000, sampling_temperature=temperature)
    assert set(drawn) == {A, B}
    assert abs(drawn.count(A) / len(drawn) - p_a) < 0.03  # 4000 draws: sd ~0.008


def test_top_k_sampling_never_draws_outside_the_k_most_probable():
    model = ScriptedModel({(): {A: 0.5, B: 0.3, EOS: 0.2}}, default={A: 0.45, EOS: 0.35, B: 0.2})
    hyps = greedy_search(model, SRC.expand(500, -1), cfg(sampling_topk=2, max_len_b=6))
    tokens = [h[0].tokens for h in hyps]
    assert all(B not in t[1:] for t in tokens)  # after the first step B is third
    assert {t[0] for t in tokens} == {A, B} and len({len(t) for t in tokens}) > 2


def test_sampling_repeats_with_its_seed_and_changes_with_another():
    model = ScriptedModel(SCRIPT)
    assert first_tokens(model, 64, sampling_seed=3) == first_tokens(model, 64, sampling_seed=3)
    assert first_tokens(model, 64, sampling_seed=3) != first_tokens(model, 64, sampling_seed=4)


def test_a_sampled_hypothesis_is_scored_with_the_model_s_log_probability():
    """The temperature shapes the draw, not the score: log P of the tokens drawn."""
    for hyps in greedy_search(ScriptedModel(SCRIPT), SRC.expand(200, -1),
                              sample(sampling_temperature=3.0)):
        h, = hyps
        prefix, expected = (), 0.0
        for token in [*h.tokens, EOS]:
            expected += math.log(SCRIPT.get(prefix, {EOS: 1.0})[token])
            prefix += (token,)
        assert h.log_prob == pytest.approx(expected, abs=1e-5)


def test_sampling_at_a_tiny_temperature_is_greedy_search(random_model):
    """P ** (1/T) for T -> 0 puts all the mass on the most probable token (float64, with
    the scaled weights of ``chaotic``, so no near-tie decides); at T = 1 it does not."""
    model = chaotic(random_model)
    torch.manual_seed(3)
    src = torch.randint(4, 30, (6, 7))
    greedy = [h[0].tokens for h in greedy_search(model, src, cfg(max_len_b=12))]
    cold = greedy_search(model, src, sample(sampling_temperature=1e-3, max_len_b=12))
    hot = greedy_search(model, src, sample(sampling_temperature=30.0, max_len_b=12))
    assert [h[0].tokens for h in cold] == greedy
    assert [h[0].tokens for h in hot] != greedy


@pytest.mark.parametrize("kw", [dict(sampling_topk=10, beam_size=4), dict(sampling_topk=-1),
                                dict(sampling_temperature=0.0),
                                dict(sampling_temperature=float("nan"))])
def test_bad_sampling_settings_are_refused(kw):
    from hanyi.errors import ConfigError

    with pytest.raises(ConfigError, match="sampling"):
        DecodeConfig(**kw)
