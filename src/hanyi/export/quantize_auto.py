"""`--quantization auto`: pick CTranslate2's weight type for this machine by measurement.

Which type is fastest depends on the CPU, the model size and the batch size, and not always
in the direction one expects: one measurement on the AMD EPYC we develop on, with random
weights, found CTranslate2 int8 *slower* than float32 at batch 1; the shipped model on the
same kind of machine was faster in int8 at every batch size (docs/RESULTS.md, "Inference
speed"). So we do not guess. At export time we

1. write the float32 model once and load it with each compute type this CPU supports;
2. translate a small sample through the real :class:`Translator` (sentence by sentence,
   greedy: interactive use; and as one batch with the model's beam size: files), best of
   ``REPEATS`` timed runs each;
3. keep only types whose output matches float32's: BLEU against the float32 output
   >= ``MIN_BLEU_VS_FLOAT32`` ("equal quality" — we have no references at export time);
4. choose the one with the smallest geometric mean of its two times relative to float32.

Everything measured goes into ``hanyi_export.json`` under ``"auto"``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import time
from pathlib import Path

from hanyi.checkpoint import LoadedModel
from hanyi.export.spec import save_spec
from hanyi.inference.ct2_engine import CT2Engine, supported_compute_types
from hanyi.inference.translator import Translator
from hanyi.metrics import bleu
from hanyi.tokenization.languages import languages

log = logging.getLogger(__name__)

MIN_BLEU_VS_FLOAT32 = 90.0
REPEATS = 3
CANDIDATES = ("float32", "int8", "int16", "bfloat16")  # int8 on CPU computes as int8_float32
# Used when no --sample file is given: everyday sentences of 4-14 words (ours, not corpus data).
DEFAULT_SAMPLE = (
    "How are you today?",
    "I would like a cup of tea, please.",
    "The train leaves at seven o'clock tomorrow morning.",
    "She has been learning Chinese for three years.",
    "Can you tell me where the nearest hospital is?",
    "We went to the park after lunch.",
    "This book is more interesting than the one I read last week.",
    "Please close the window before you go to bed.",
    "My brother works in a small company in Shanghai.",
    "It is going to rain this afternoon.",
    "I don't know why he didn't come to the meeting.",
    "They bought a new house near the river.",
    "What time does the shop open on Sundays?",
    "Thank you very much for your help.",
    "The children are playing football in the garden.",
    "If you have any questions, please call me.",
)
DEFAULT_SAMPLE_ZH = (  # for zh-en models; the same sentences, ours too
    "你今天好吗？", "请给我一杯茶。", "火车明天早上七点出发。", "她学中文已经三年了。",
    "你能告诉我最近的医院在哪里吗？", "午饭后我们去了公园。", "这本书比我上周读的那本更有意思。",
    "睡觉前请关上窗户。", "我哥哥在上海的一家小公司工作。", "今天下午要下雨了。",
    "我不知道他为什么没来开会。", "他们在河边买了一栋新房子。", "商店星期天几点开门？",
    "非常感谢你的帮助。", "孩子们正在花园里踢足球。", "如果你有任何问题，请给我打电话。",
)


def _time_best(fn) -> float:
    best = math.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _measure(translator: Translator, sentences: list[str]) -> tuple[dict, list[str]]:
    """Time ``translator`` on ``sentences``; returns the timings and the batched output."""
    decode = dataclasses.replace(translator.decode_cfg, nbest=1, keep_numbers_beam=0,
                                 batch_size=len(sentences))
    greedy = dataclasses.replace(decode, beam_size=1)

    def one_by_one():
        return [translator.translate([s], decode=greedy) for s in sentences]

    def batched():
        return translator.translate(sentences, decode=decode)

    batched()  # warm-up: first calls allocate caches
    single_s, batch_s = _time_best(one_by_one), _time_best(batched)
    outputs = [t.text for t in batched()]
    timing = {"batch1_greedy_ms_per_sentence": round(1000 * single_s / len(sentences), 2),
              f"batch{len(sentences)}_beam{decode.beam_size}_ms_per_sentence":
                  round(1000 * batch_s / len(sentences), 2)}
    return {"single_s": single_s, "batch_s": batch_s, **timing}, outputs


def choose_quantization(loaded: LoadedModel, sample: list[str] | None,
                        threads: int = 0) -> tuple[str, dict]:
    """Measure each supported weight type; return (chosen type, what was measured)."""
    src_lang, tgt_lang = languages(loaded.config.direction)
    default = DEFAULT_SAMPLE if src_lang == "en" else DEFAULT_SAMPLE_ZH
    sentences = [s for s in (sample or default) if s.strip()][:64]
    supported = supported_compute_types("cpu")
    candidates = [c for c in CANDIDATES if c in supported]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="hanyi-auto-") as tmp:
        save_spec(loaded, "float32", Path(tmp))  # loaded below with each compute type
        reference = None
        for compute_type in candidates:
            engine = CT2Engine(tmp, loaded.src_vocab, loaded.tgt_vocab,
                               compute_type=compute_type, threads=threads)
            translator = Translator(dataclasses.replace(loaded, model=None, path=Path(tmp)),
                                    engine=engine)
            stats, text = _measure(translator, sentences)
            reference = reference or text  # float32 comes first
            stats["bleu_vs_float32"] = round(bleu(text, reference, tgt_lang).score, 2)
            results[compute_type] = stats
    base_single, base_batch = results["float32"]["single_s"], results["float32"]["batch_s"]
    for stats in results.values():
        stats["relative_time"] = round(math.sqrt(stats.pop("single_s") / base_single
                                                 * stats.pop("batch_s") / base_batch), 3)
    equal = {c: s for c, s in results.items() if s["bleu_vs_float32"] >= MIN_BLEU_VS_FLOAT32}
    chosen = min(equal, key=lambda c: equal[c]["relative_time"])
    log.info("auto quantization: %s (%s)", chosen, results)
    return chosen, {"chosen": chosen, "sentences": len(sentences), "threads": threads,
                    "min_bleu_vs_float32": MIN_BLEU_VS_FLOAT32, "not_supported_here":
                        [c for c in CANDIDATES if c not in supported], "measured": results}
