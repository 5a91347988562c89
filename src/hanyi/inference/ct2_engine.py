"""The CTranslate2 engine: search through ``ctranslate2.Translator`` on an exported model.

`Translator` does the same normalisation, SentencePiece encoding, length-sorted batching
and detokenisation for every engine; this engine replaces only the search. Our
:class:`~hanyi.config.DecodeConfig` maps onto ``translate_batch`` options:

=====================  ==============================================================
hanyi                  CTranslate2
=====================  ==============================================================
beam_size, nbest       beam_size, num_hypotheses
length_penalty         length_penalty — the same formula, log P / length ** alpha, with
                       the length counting EOS (checked: identical scores)
no_repeat_ngram_size   no_repeat_ngram_size
no empty output        min_decoding_length=1 (EOS banned at the first step)
never <pad>, <s>       suppress_sequences=[["<pad>"], ["<s>"]]
never <unk>            disable_unk=True
max_len = a·S + b      max_decoding_length = max_len - 1 (see below)
need_attention         return_attention (see below)
sampling_topk,         sampling_topk, sampling_temperature (the same meaning: 1 = off,
sampling_temperature,  0 = the whole distribution); the seed through
sampling_seed          ``ctranslate2.set_random_seed`` (see below)
=====================  ==============================================================

Deviation in the sampling seed. CTranslate2 has no seed per call: each of its worker
threads seeds its own generator once, from the process's seed, at its first draw. So the
seed is set before an engine's first sampled search and makes the engine's whole run
repeatable (the same texts in the same order, in a new process or a new engine), where
ours (decoding/sampling.py) repeats every call.

Attention. CTranslate2 returns one (T, S) matrix of cross-attention weights per
hypothesis: the heads and layer the export chose (``alignment_layer`` and
``alignment_heads`` of its spec). ``hanyi export`` asks for the mean over all heads of the
last decoder layer (export/spec.py), so a hypothesis's ``attention`` here is (T, 1, 1, S):
one "layer" of one "head", that mean — where the PyTorch engine gives every layer and head,
(T, L, H, S). documents/align.py uses exactly this mean from either engine. Deviation: in a
batch, CTranslate2 4.x's beam search can give a sentence the first row (the first output
token's weights) of another sentence of the batch; every later row, and every row of a
sentence decoded alone, is the same as PyTorch's (tests/test_export.py).

Deviation in banned tokens: CTranslate2 bans tokens (``<pad>``, ``<s>``, ``<unk>``, EOS at
the first step) in the logits *before* its softmax, so the remaining probabilities are
renormalised; we set the banned log-probabilities to -inf *after* the softmax, so a score
stays the model's probability. A trained model gives those tokens ~0 probability and the
two agree (tests/test_export.py: identical beam-4 outputs and scores); on random weights
the scores, and so beam rankings, can differ, while greedy token ids never do. ``<unk>``
is the exception among them: where a trained model wants to write it (a name with a
letter its pieces lack), its share is renormalised away in CTranslate2 and not in ours,
so there the two engines' scores, and rarely their beams, differ.

Deviation for loops. Our search ends a hypothesis caught repeating itself
(``decode.stop_loops``, decoding/constraints.py) as soon as the loop shows; CTranslate2 has
no such rule, so it decodes on (up to the length cap) and we cut its output where our
search would have stopped. The tokens are the same; the score keeps the cut tokens'
log-probabilities and has no EOS, and for beam search the ranking can differ.

Deviation at the length cap. Our search counts EOS in ``max_len`` and *forces* EOS at the
cap, adding its log-probability to the score; CTranslate2 stops after
``max_decoding_length`` tokens and returns the hypothesis without EOS and without its
log-probability. With ``max_decoding_length = max_len - 1`` the tokens are the same; only
the score of a hypothesis that hit the cap differs, which for beam search can change the
ranking between capped and naturally finished hypotheses. CTranslate2 also takes one cap
per call, not one per sentence, so we decode a batch with the largest cap and re-decode,
alone and with its own cap, any sentence whose output came out longer than its own cap.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from hanyi.checkpoint import EXPORT_META, load_meta, verify_checksum
from hanyi.config import DecodeConfig
from hanyi.decoding import Cancel, Hypothesis, max_output_length
from hanyi.decoding.constraints import check_cancel, loop_end
from hanyi.errors import InputError, ModelLoadError
from hanyi.tokenization import Vocab

log = logging.getLogger(__name__)


def _import_ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise ModelLoadError("this is a CTranslate2 export, but CTranslate2 is not installed: "
                             "pip install 'hanyi[export]'") from None
    return ctranslate2


def supported_compute_types(device: str) -> set[str]:
    return set(_import_ctranslate2().get_supported_compute_types(device))


def cpu_compute_type(quantization: str, device: str) -> str:
    """The compute type to load a model saved as ``quantization`` with on ``device``.

    A type the device cannot run (int16 and bfloat16 on most CPUs) falls back to "auto",
    CTranslate2's fastest supported choice, with a log line saying so.
    """
    supported = supported_compute_types(device)
    if quantization in supported:
        return quantization
    log.warning("compute type %s is not supported on this %s (supported: %s); using auto",
                quantization, device, ", ".join(sorted(supported)))
    return "auto"


def _weights(rows: list[list[float]], tokens: list[int]) -> torch.Tensor:
    """CTranslate2's (T, S) attention lists -> (T, 1, 1, S), cut with the tokens (one row
    per token and at most one for EOS)."""
    return torch.tensor(rows, dtype=torch.float32)[:len(tokens) + 1, None, None, :]


class CT2Engine:
    """Search over id lists with a ``ctranslate2.Translator``."""

    # need_attention gives (T, 1, 1, S), the export's alignment heads (see above): enough to
    # align (documents/align.py), not every layer and head (the server's heat-maps)
    returns_attention = False
    aligns = True

    def __init__(self, path: str | Path, src_vocab: Vocab, tgt_vocab: Vocab,
                 device: str = "cpu", compute_type: str | None = None, threads: int = 0):
        """``compute_type``: how to compute (None = the type the export was saved as, or
        the fastest this device supports if it cannot run that one)."""
        ctranslate2 = _import_ctranslate2()
        path = Path(path)
        meta = load_meta(path / EXPORT_META)
        verify_checksum(path / "model.bin", meta.get("model_bin_sha256"))
        if compute_type is None:
            compute_type = cpu_compute_type(meta.get("quantization", "auto"), device)
        self.compute_type = compute_type
        try:
            self.translator = ctranslate2.Translator(
                str(path), device=device, compute_type=self.compute_type,
                intra_threads=threads)
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"{path}: CTranslate2 cannot load this export ({exc})") from None
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        pieces = tgt_vocab.tokens()
        self.suppress = [[pieces[tgt_vocab.pad_id]], [pieces[tgt_vocab.bos_id]]]
        self.seeded = False  # the sampling seed is set at the first sampled search

    @property
    def name(self) -> str:
        return f"ctranslate2-{self.compute_type}"

    def _options(self, cfg: DecodeConfig, max_len: int) -> dict:
        return {"beam_size": cfg.beam_size, "num_hypotheses": cfg.nbest,
                "length_penalty": cfg.length_penalty,
                "no_repeat_ngram_size": cfg.no_repeat_ngram_size,
                "min_decoding_length": 1, "suppress_sequences": self.suppress,
                "disable_unk": True,
                "max_decoding_length": max(1, max_len - 1), "max_input_length": 0,
                "max_batch_size": cfg.batch_size, "return_scores": True,
                "sampling_topk": cfg.sampling_topk,
                "sampling_temperature": cfg.sampling_temperature}

    def _hypotheses(self, result, cfg: DecodeConfig) -> list[Hypothesis]:
        hyps: list[Hypothesis] = []
        attentions = result.attention or None  # [] unless asked for
        for pieces, score in zip(result.hypotheses, result.scores, strict=True):
            ids = self.tgt_vocab.ids(pieces)
            # CTranslate2 returns the normalised score; undo the normalisation for log P.
            log_prob = score * (len(ids) + 1) ** cfg.length_penalty
            end = loop_end(ids) if cfg.stop_loops else None
            if end is not None:  # cut where our search stops a loop (see module docstring)
                ids = ids[:end]
            weights = None
            if attentions is not None:
                weights = _weights(attentions[len(hyps)], ids)
            hyps.append(Hypothesis(ids, float(score), float(log_prob), weights))
        return hyps

    def search(self, batch: list[list[int]], cfg: DecodeConfig, need_attention: bool = False,
               cancel: Cancel | None = None) -> list[list[Hypothesis]]:
        """batch: source id lists (no padding) -> n-best hypotheses per sentence.
        CTranslate2 decodes a batch in one call, so ``cancel`` is asked before it only."""
        check_cancel(cancel)
        caps = [max_output_length(len(ids), cfg) for ids in batch]
        source = [self.src_vocab.pieces(ids) for ids in batch]
        results = self._translate(source, cfg, max(caps), need_attention)
        out = [self._hypotheses(r, cfg) for r in results]
        for i, (hyps, cap) in enumerate(zip(out, caps, strict=True)):
            if any(len(h.tokens) > cap - 1 for h in hyps):  # ran past its own cap: redo
                again = self._translate([source[i]], cfg, cap, need_attention)[0]
                out[i] = self._hypotheses(again, cfg)
        return out

    def attend(self, batch: list[list[int]], outputs: list[list[int]]) -> list[torch.Tensor]:
        """The cross-attention of given outputs, each (T, 1, 1, S) as :meth:`search` gives
        it: a greedy search forced through each output (``target_prefix``) and one step
        beyond, whose attention rows are the output's (the row of a position depends on
        the tokens before it only). About a third of a beam-4 search's time, where a
        wide beam with attention costs about twice one without (the number rescue)."""
        source = [self.src_vocab.pieces(ids) for ids in batch]
        prefix = [self.tgt_vocab.pieces(out) for out in outputs]
        try:
            results = self.translator.translate_batch(
                source, target_prefix=prefix, beam_size=1, return_attention=True,
                max_decoding_length=max(map(len, outputs)) + 1, max_input_length=0,
                suppress_sequences=self.suppress, disable_unk=True)
        except RuntimeError as exc:
            raise InputError(f"CTranslate2 could not align this batch ({exc})") from None
        return [_weights(r.attention[0], out) for r, out in zip(results, outputs, strict=True)]

    def _translate(self, source: list[list[str]], cfg: DecodeConfig, max_len: int,
                   need_attention: bool = False):
        options = self._options(cfg, max_len) | {"return_attention": need_attention}
        if cfg.samples and not self.seeded:  # before the first draw (see above)
            _import_ctranslate2().set_random_seed(cfg.sampling_seed)
            self.seeded = True
        try:
            return self.translator.translate_batch(source, **options)
        except RuntimeError as exc:  # e.g. a length beyond the position table
            raise InputError(f"CTranslate2 could not translate this batch ({exc})") from None
