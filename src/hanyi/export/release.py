"""Release export: the layout of the shipped model, in one atomic step.

    hanyi export --format release --model runs/x/best --out models/hanyi-en-zh

writes a model directory whose PyTorch weights are float16 (half the bytes; loading copies
them into float32 parameters) and which carries its own CTranslate2 export, made from
those same float16 weights, in ``ctranslate2/`` (int8 unless told otherwise)::

    model.safetensors config.yaml src.model tgt.model meta.json    the PyTorch model
    ctranslate2/                                                   its CTranslate2 export
    train-words.tsv.xz     English->Chinese: its training words' counts (the lexicon
                           fallback, inference/lexicon.py), from the config's data.dir

`hanyi translate` runs the export by default on a CPU (``--engine auto``; see
:func:`hanyi.inference.translator.pick_export`) and the PyTorch weights with ``--engine
torch``. The export records the SHA-256 of the weights it was made from, so new weights
saved over the directory without a new export are refused, never silently mixed.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import torch

from hanyi.checkpoint import BUNDLED_EXPORT, LoadedModel, load_model_dir, write_model_files
from hanyi.export.ctranslate2 import export_ctranslate2
from hanyi.files import atomic_dir
from hanyi.inference.lexicon import WORDS_FILE, write_word_counts

log = logging.getLogger(__name__)

# what the trainer's meta.json says that a user of the shipped model may want to know
KEPT_META = ("step", "epoch", "dev_loss", "dev_bleu", "averaged_from", "selected_by")


def export_release(loaded: LoadedModel, out: str | Path, quantization: str = "int8",
                   sample: list[str] | None = None, threads: int = 0) -> dict:
    """Write ``loaded`` as a release directory ``out`` (replaced atomically); returns the
    export's metadata."""
    out = Path(out)
    meta = {k: v for k, v in loaded.meta.items() if k in KEPT_META}
    meta["released_from"] = str(loaded.path) if loaded.path else None
    with atomic_dir(out) as tmp:
        write_model_files(tmp, loaded.model, loaded.config, loaded.src_vocab,
                          loaded.tgt_vocab, meta, weights_dtype=torch.float16)
        # what users load: export exactly these weights (named after where they will live)
        half = dataclasses.replace(load_model_dir(tmp, "cpu"), path=out)
        exported = export_ctranslate2(half, tmp / BUNDLED_EXPORT, quantization, sample,
                                      threads)
        write_training_words(loaded, tmp / WORDS_FILE)
    log.info("released %s to %s (float16 weights + CTranslate2 %s)", loaded.path, out,
             exported["quantization"])
    return exported


def write_training_words(loaded: LoadedModel, out: Path) -> None:
    """The lexicon fallback's word counts: the released model's own file if it has one,
    else counted from its training split (``data.dir``/train.en), else none (a warning)."""
    if loaded.config.direction != "en-zh":
        return
    own = Path(loaded.path) / WORDS_FILE if loaded.path else None
    train = Path(loaded.config.data.dir) / "train.en"
    if own is not None and own.is_file():
        shutil.copyfile(own, out)
    elif train.is_file():
        words = write_word_counts(train, out)
        log.info("counted %d English words of %s for the lexicon fallback", words, train)
    else:
        log.warning("%s not found: the release has no lexicon fallback (run the export where "
                    "the model's prepared data is)", train)
