"""CTranslate2 export and the fast inference engines.

Parity is the point: a float32 export must reproduce our own greedy search token for token
(the same weights, the same search rules), for every layout we can train (pre/post-norm,
tied/untied output projection). Lossy engines (int8) must stay within a stated BLEU
tolerance of float32 on a trained model. What cannot be exported must fail clearly.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import warnings
from pathlib import Path

import pytest
import torch
from helpers import synthetic_sentences, vivid_model

from hanyi.checkpoint import LoadedModel
from hanyi.config import ExperimentConfig
from hanyi.errors import ConfigError, ModelLoadError
from hanyi.inference import Translator
from hanyi.metrics import bleu

ctranslate2 = pytest.importorskip("ctranslate2")

# int8 (CTranslate2 or PyTorch dynamic) may cost at most this much BLEU against float32 on
# the tiny model's 200-sentence test set (greedy). Measured on configs/tiny.yaml stopped at
# step 200: torch 5.74, torch int8 5.86, CTranslate2 int8 5.72. 1.5 leaves room for noise on
# so small a sample, yet catches a broken quantization (which drops BLEU to ~0).
INT8_BLEU_TOLERANCE = 1.5


def random_loaded(toy_vocabs, cfg, tmp_path: Path) -> LoadedModel:
    """A random model whose outputs are not degenerate (helpers.vivid_model)."""
    model = vivid_model(toy_vocabs, cfg)
    config = ExperimentConfig(model=cfg)
    # random weights loop a lot: compare the engines' arithmetic over whole outputs here,
    # the loop rule on its own (test_loops_are_cut_where_our_search_stops_them)
    config.decode = dataclasses.replace(config.decode, beam_size=1, batch_size=8,
                                        stop_loops=False)
    return LoadedModel(model, config, *toy_vocabs, {}, tmp_path / "random")


@pytest.mark.parametrize("norm_position", ["pre", "post"])
@pytest.mark.parametrize("tied", [True, False])
def test_float32_export_greedy_token_ids_match_torch(toy_vocabs, small_model_config, tmp_path,
                                                     norm_position, tied):
    from hanyi.export import export_ctranslate2

    cfg = dataclasses.replace(small_model_config, norm_position=norm_position,
                              tie_target_embeddings=tied)
    loaded = random_loaded(toy_vocabs, cfg, tmp_path)
    export_ctranslate2(loaded, tmp_path / "ct2", "float32")
    texts = synthetic_sentences(24, seed=5)[0] + ["", "Tom"]
    ours = Translator(loaded).translate(texts)
    theirs = Translator.load(tmp_path / "ct2", threads=1).translate(texts)
    assert [t.tgt_tokens for t in theirs] == [t.tgt_tokens for t in ours]
    assert len({t.text for t in ours}) >= 5, "degenerate model: the test would prove little"
    assert theirs[-2].text == "" and ours[-2].text == ""


@pytest.mark.parametrize("stop_loops, beam", [(False, 3), (True, 1)])  # (a cut loop can
def test_export_attention_is_the_last_layer_head_mean(toy_vocabs, small_model_config, tmp_path,
                                                      stop_loops, beam):  # rank otherwise)
    """What inline markup is placed with (documents/align.py): the export returns the mean
    over heads of the last decoder layer's cross-attention, the same numbers as PyTorch's,
    one row per output token and EOS (fewer where a loop was cut). One known deviation:
    in a batch, CTranslate2's beam search can return another sentence's weights for the
    first output token (ct2_engine.py); alone, every row is the same."""
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    export_ctranslate2(loaded, tmp_path / "ct2", "float32")
    texts = synthetic_sentences(12, seed=3)[0]
    cfg = dataclasses.replace(loaded.config.decode, stop_loops=stop_loops, beam_size=beam)
    ours = Translator(loaded).translate(texts, cfg, need_attention=True)
    export = Translator.load(tmp_path / "ct2", threads=1)
    assert export.aligns and not export.returns_attention  # not every layer and head
    batched = export.translate(texts, cfg, need_attention=True)
    alone = [export.translate([t], cfg, need_attention=True)[0] for t in texts]
    compared = 0
    for a, b, c in zip(ours, batched, alone, strict=True):
        if not a.tgt_tokens == b.tgt_tokens == c.tgt_tokens:
            continue  # random weights have near-ties that the engines' arithmetic breaks
        layers, heads, steps, padded = a.attention.shape  # PyTorch: the batch's padding too
        assert (layers, heads) == (small_model_config.decoder_layers, small_model_config.n_heads)
        source = len(a.src_tokens)
        assert b.attention.shape[:2] == (1, 1) and b.attention.shape[3] == source <= padded
        assert float(a.attention[..., source:].abs().sum()) == 0.0
        rows = min(steps, b.attention.shape[2])
        assert rows >= len(a.tgt_tokens) - 1
        mean = a.attention[-1].mean(0)[:rows, :source]
        torch.testing.assert_close(b.attention[0, 0, 1:rows], mean[1:], atol=1e-4, rtol=1e-3)
        torch.testing.assert_close(c.attention[0, 0, :rows], mean, atol=1e-4, rtol=1e-3)
        compared += 1
    assert compared >= len(texts) // 2
    assert export.translate(texts[:2])[0].attention is None  # only when asked


@pytest.mark.parametrize("beam", [1, 4])
def test_attend_gives_the_attention_the_search_gave(toy_vocabs, small_model_config, tmp_path,
                                                    beam):
    """``engine.attend`` (one decoder pass forced through given outputs: how a translation
    chosen without attention, the number rescue's, gets it) returns what the search
    returned with those outputs: every row in PyTorch, every row but the first in the
    export (its beam search's first-row deviation in a batch, ct2_engine.py)."""
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    export_ctranslate2(loaded, tmp_path / "ct2", "float32")
    texts = synthetic_sentences(12, seed=3)[0]
    cfg = dataclasses.replace(loaded.config.decode, beam_size=beam)
    for translator, first in ((Translator(loaded), 0),
                              (Translator.load(tmp_path / "ct2", threads=1), 1)):
        batch = [translator.encode(t) for t in texts]
        best = [hyps[0] for hyps in translator.engine.search(batch, cfg, need_attention=True)]
        forced = translator.engine.attend(batch, [h.tokens for h in best])
        for hyp, weights in zip(best, forced, strict=True):
            assert weights.shape[1:] == hyp.attention.shape[1:]
            rows = min(len(weights), len(hyp.attention))
            assert rows >= len(hyp.tokens)
            torch.testing.assert_close(weights[first:rows], hyp.attention[first:rows],
                                       atol=1e-4, rtol=1e-3)


def test_loops_are_cut_where_our_search_stops_them(toy_vocabs, small_model_config, tmp_path):
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    export_ctranslate2(loaded, tmp_path / "ct2", "float32")
    texts = synthetic_sentences(24, seed=5)[0]
    stop = dataclasses.replace(loaded.config.decode, stop_loops=True)
    ours = Translator(loaded).translate(texts, stop)
    theirs = Translator.load(tmp_path / "ct2", threads=1).translate(texts, stop)
    assert [t.tgt_tokens for t in theirs] == [t.tgt_tokens for t in ours]
    unstopped = Translator(loaded).translate(texts)
    assert sum(len(t.tgt_tokens) for t in ours) < sum(len(t.tgt_tokens) for t in unstopped)


def test_float32_export_greedy_no_repeat_ngram_matches(toy_vocabs, small_model_config,
                                                      tmp_path):
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    export_ctranslate2(loaded, tmp_path / "ct2", "float32")
    texts = synthetic_sentences(16, seed=7)[0]
    cfg = dataclasses.replace(loaded.config.decode, no_repeat_ngram_size=2, max_len_a=0.0,
                              max_len_b=12)
    ours = Translator(loaded).translate(texts, cfg)
    theirs = Translator.load(tmp_path / "ct2", threads=1).translate(texts, cfg)
    assert [t.tgt_tokens for t in theirs] == [t.tgt_tokens for t in ours]
    for t in theirs:
        bigrams = list(itertools.pairwise(t.tgt_tokens))
        assert len(bigrams) == len(set(bigrams))


def beam_agreement(model_dir: Path, test_en: Path, tmp_path: Path, n: int = 100) -> float:
    """Share of sentences whose beam-4 (n-best 2, length penalty 0.6) best hypothesis is
    the same in our search and in a float32 export, scores checked where it is."""
    from hanyi.checkpoint import load_model_dir
    from hanyi.export import export_ctranslate2

    export_ctranslate2(load_model_dir(model_dir), tmp_path / "f32", "float32")
    src = test_en.read_text(encoding="utf-8").splitlines()[:n]
    ours_tr = Translator.load(model_dir)
    theirs_tr = Translator.load(tmp_path / "f32", threads=1)
    cfg = ours_tr.with_options(beam_size=4, nbest=2, length_penalty=0.6)
    same = 0
    for a, b in zip(ours_tr.translate(src, cfg), theirs_tr.translate(src, cfg), strict=True):
        assert len(b.alternatives) == 2
        if a.tgt_tokens == b.tgt_tokens:
            same += 1
            assert b.score == pytest.approx(a.score, abs=1e-2)
    return same / len(src)


@pytest.mark.slow
def test_float32_export_beam_matches_torch_on_trained_model(tiny_run, tmp_path):
    """On a trained model. (On random models CTranslate2's scores differ: it bans tokens —
    <pad>, <s>, EOS at step 0 — before its softmax and so renormalises; we set their
    log-probabilities to -inf after. Trained models give those tokens ~0 probability.)"""
    share = beam_agreement(tiny_run / "run" / "best", tiny_run / "data" / "test.en", tmp_path)
    assert share >= 0.95


def test_export_metadata_and_sidecar_files(toy_vocabs, small_model_config, tmp_path):
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    meta = export_ctranslate2(loaded, tmp_path / "ct2", "auto", sample=["Tom likes tea."],
                              threads=1)
    out = tmp_path / "ct2"
    for name in ("model.bin", "src.model", "tgt.model", "config.yaml", "hanyi_export.json"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "hanyi_export.json").read_text(encoding="utf-8"))
    assert saved["quantization"] == meta["auto"]["chosen"]
    measured = meta["auto"]["measured"]
    assert "float32" in measured and measured["float32"]["bleu_vs_float32"] == 100.0
    assert all(m["relative_time"] > 0 for m in measured.values())
    assert measured[meta["quantization"]]["bleu_vs_float32"] >= meta["auto"]["min_bleu_vs_float32"]


def test_inexact_attention_kernel_is_refused(toy_vocabs, small_model_config, tmp_path):
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    loaded.config.model = dataclasses.replace(small_model_config, encoder_attention="local")
    with pytest.raises(ModelLoadError, match="no CTranslate2 equivalent"):
        export_ctranslate2(loaded, tmp_path / "ct2", "float32")
    assert not (tmp_path / "ct2").exists()


def test_export_engine_rejects_torch_only_options(toy_vocabs, small_model_config, tmp_path):
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    export_ctranslate2(loaded, tmp_path / "ct2", "int8")
    with pytest.raises(ConfigError, match="drop --quantize"):
        Translator.load(tmp_path / "ct2", quantize="int8")


def test_torch_int8_quantization_is_quiet_and_cpu_only(toy_vocabs, small_model_config, tmp_path):
    from hanyi.inference.torch_engine import TorchEngine

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning from the quantization fails the test
        engine = TorchEngine(loaded.model, toy_vocabs[0].pad_id, "cpu", "int8")
    assert engine.name == "torch-int8"
    assert isinstance(engine.model.output_proj, torch.ao.nn.quantized.dynamic.Linear)
    assert isinstance(loaded.model.output_proj, torch.nn.Linear)  # the original is untouched
    with pytest.raises(ConfigError, match="CPU only"):
        TorchEngine(loaded.model, toy_vocabs[0].pad_id, "cuda", "int8")


def check_int8_bleu(model_dir: Path, test_en: Path, test_zh: Path, tmp_path: Path) -> dict:
    """BLEU of float32 torch, int8 torch and int8 CTranslate2 on a test set (greedy)."""
    from hanyi.checkpoint import load_model_dir
    from hanyi.export import export_ctranslate2

    src = test_en.read_text(encoding="utf-8").splitlines()
    ref = test_zh.read_text(encoding="utf-8").splitlines()
    export_ctranslate2(load_model_dir(model_dir), tmp_path / "int8", "int8")
    engines = {"torch": Translator.load(model_dir),
               "torch-int8": Translator.load(model_dir, quantize="int8"),
               "ct2-int8": Translator.load(tmp_path / "int8", threads=1)}
    scores = {}
    for name, translator in engines.items():
        cfg = translator.with_options(beam_size=1, nbest=1)
        scores[name] = bleu([t.text for t in translator.translate(src, cfg)], ref).score
    return scores


@pytest.mark.slow
def test_int8_bleu_within_tolerance_of_float32(tiny_run, tmp_path):
    data = tiny_run / "data"
    scores = check_int8_bleu(tiny_run / "run" / "best", data / "test.en", data / "test.zh",
                             tmp_path)
    assert scores["torch"] > 0.5, scores  # the model learned something: the check has teeth
    for name in ("torch-int8", "ct2-int8"):
        assert abs(scores[name] - scores["torch"]) <= INT8_BLEU_TOLERANCE, scores


@pytest.mark.slow
def test_cli_export_then_translate_and_evaluate(tiny_run, tmp_path, capsys):
    from hanyi.cli.__main__ import main

    best, data, out = tiny_run / "run" / "best", tiny_run / "data", tmp_path / "ct2"
    assert main(["export", "--model", str(best), "--out", str(out),
                 "--quantization", "float32"]) == 0
    capsys.readouterr()
    args = ["--beam", "1", "-i", str(data / "test.en")]
    assert main(["translate", "--model", str(best), *args]) == 0
    torch_lines = capsys.readouterr().out
    assert main(["translate", "--model", str(out), "--threads", "1", *args]) == 0
    assert capsys.readouterr().out == torch_lines
    assert main(["evaluate", "--model", str(out), "--src", str(data / "test.en"),
                 "--ref", str(data / "test.zh"), "--json"]) == 0
    assert "bleu" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["export", "--model", str(out), "--out", str(tmp_path / "again")]) == 2


def test_a_damaged_export_is_refused(toy_vocabs, small_model_config, tmp_path):
    from hanyi.export import export_ctranslate2

    export_ctranslate2(random_loaded(toy_vocabs, small_model_config, tmp_path),
                       tmp_path / "ct2", "float32")
    data = bytearray((tmp_path / "ct2" / "model.bin").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "ct2" / "model.bin").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="damaged"):
        Translator.load(tmp_path / "ct2")


def test_ctranslate2_samples_within_the_top_k_and_repeats_with_its_seed(
        toy_vocabs, small_model_config, tmp_path):
    """decode.sampling_* reach CTranslate2: every token it draws with top-k 2 is one of the
    two most probable under the same weights (our model, teacher-forced), the draws differ
    from greedy search, and a new engine with the same seed draws the same (CTranslate2
    seeds a run, not a call: ct2_engine.py)."""
    from hanyi.data.batch import pad_sequences
    from hanyi.export import export_ctranslate2

    loaded = random_loaded(toy_vocabs, small_model_config, tmp_path)
    export_ctranslate2(loaded, tmp_path / "ct2", "float32")
    texts = synthetic_sentences(24, seed=5)[0]
    ct2 = Translator.load(tmp_path / "ct2", threads=1)
    topk = dataclasses.replace(loaded.config.decode, sampling_topk=2, sampling_seed=7,
                               max_len_a=0.0, max_len_b=8)
    drawn = ct2.translate(texts, topk)
    again = Translator.load(tmp_path / "ct2", threads=1).translate(texts, topk)
    assert [t.tgt_tokens for t in again] == [t.tgt_tokens for t in drawn]
    greedy = ct2.translate(texts, dataclasses.replace(topk, sampling_topk=1))
    assert [t.tgt_tokens for t in drawn] != [t.tgt_tokens for t in greedy]
    model, ids = loaded.model.eval(), loaded.model.tgt_ids
    banned = [i for i in (ids.pad, ids.bos, ids.unk) if i is not None]  # never drawn
    for text, t in zip(texts, drawn, strict=True):
        src = pad_sequences([Translator(loaded).encode(text)], model.src_ids.pad)
        out = loaded.tgt_vocab.ids(t.tgt_tokens)[:-1]  # the last is EOS (forced at the cap)
        tgt = torch.tensor([[ids.bos, *out]])
        with torch.inference_mode():
            memory, padding = model.encode(src)
            logits = model.logits(model.decode(tgt, memory, padding).hidden)  # (1, T + 1, V)
        logits = logits[0, :len(out)].clone()  # (T, V): the logits each token was drawn from
        logits[:, banned] = float("-inf")
        logits[0, ids.eos] = float("-inf")  # no empty output
        top2 = logits.topk(2, dim=-1).indices  # (T, 2)
        assert all(tok in row for tok, row in zip(out, top2.tolist(), strict=True))
