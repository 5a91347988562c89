"""The Transformer model, written to be read.

Shape legend (batch first everywhere; each letter has one meaning):
    B batch   S source length   T target length   D d_model   H heads
    Dh head dim: D / H, the paper's d_k = d_v      F d_ff      V vocabulary
    K beam size   L layers (of the encoder or decoder stack)
    Tq, Tk: query and key lengths inside attention (S or T, depending on the site)

Reading order (the paper's order), one concept per file:
    masks.py -> embeddings.py -> attention/base.py -> attention/reference.py ->
    attention/multihead.py -> feedforward.py -> layers.py -> transformer.py -> cache.py
``attention/sdpa.py`` is the same equation as ``reference.py``, fused by PyTorch (the
default). ``attention/efficient/`` holds kernels from later papers; the paper's model never
needs them. ``docs/walkthrough.py`` runs every piece on toy inputs.
"""

from hanyi.config import ModelConfig
from hanyi.model.transformer import SpecialIds, StepOutput, Transformer
from hanyi.tokenization import Vocab


def build_model(cfg: ModelConfig, src_vocab: Vocab, tgt_vocab: Vocab) -> Transformer:
    """A freshly initialised Transformer sized for the two vocabularies."""
    return Transformer(
        cfg, len(src_vocab), len(tgt_vocab),
        SpecialIds(src_vocab.pad_id, src_vocab.bos_id, src_vocab.eos_id, src_vocab.unk_id),
        SpecialIds(tgt_vocab.pad_id, tgt_vocab.bos_id, tgt_vocab.eos_id, tgt_vocab.unk_id),
    )


__all__ = ["SpecialIds", "StepOutput", "Transformer", "build_model"]
