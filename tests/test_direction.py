"""zh-en models (for back-translation): the same prepared data read the other way round,
Chinese normalised on the way in, English left as SentencePiece spells it on the way out,
BLEU with sacreBLEU's 13a tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import synthetic_sentences

from hanyi.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    SourceConfig,
    TokenizerConfig,
    TrainConfig,
)
from hanyi.data.prepare import prepare
from hanyi.evaluation.evaluate import evaluate
from hanyi.inference import Translator
from hanyi.training.trainer import Trainer


@pytest.fixture(scope="module")
def zh_en_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zhen")
    en, zh = synthetic_sentences(3000, seed=4)
    (root / "c.tsv").write_text("".join(f"{e}\t{z}\n" for e, z in zip(en, zh, strict=True)),
                                "utf-8")
    data = DataConfig(root=str(root), dir=str(root / "prepared"), dev_size=10, test_size=10,
                      held_out_near_duplicates="keep",  # templated: every sentence has one
                      sources=[SourceConfig(name="c", path="c.tsv", role="pool")])
    prepare(data, TokenizerConfig(src_vocab_size=60, tgt_vocab_size=60))
    cfg = ExperimentConfig(
        direction="zh-en", data=DataConfig(dir=str(root / "prepared")),
        model=ModelConfig(d_model=64, n_heads=4, d_ff=128, encoder_layers=1, decoder_layers=1),
        train=TrainConfig(max_steps=150, max_tokens=1024, lr=3e-3, warmup_steps=20,
                          eval_every=150, save_every=150, dev_bleu_sentences=10, seed=2))
    Trainer(cfg, root / "run", torch.device("cpu")).run()
    return root / "run" / "best"


def test_a_zh_en_model_reads_chinese_and_writes_english(zh_en_run):
    translator = Translator.load(zh_en_run)
    assert (translator.source_language, translator.target_language) == ("zh", "en")
    # Traditional script and ASCII punctuation are normalised like the training data
    (out,) = translator.translate(["我喜歡茶."])
    assert out.text == "I like tea."
    assert out.src_tokens and "<unk>" not in out.src_tokens


def test_its_bleu_uses_the_english_tokenizer(zh_en_run):
    translator = Translator.load(zh_en_run)
    report = evaluate(translator, ["我喜欢茶。"], ["I like tea."])
    assert "tok:13a" in report.bleu.signature
