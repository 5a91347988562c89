"""The Transformer model, written to be read.

Shape legend (batch first everywhere):
    B batch   S source length   T target length   D d_model   H heads   Dh head dim (D / H)
    F d_ff    V vocabulary      K beam size       L layers

Reading order (paper order): masks -> embeddings -> attention (kernels, multi-head) ->
feedforward -> layers -> transformer.
"""

from hanyi.config import ModelConfig
from hanyi.model.transformer import SpecialIds, StepOutput, Transformer
from hanyi.tokenization import Vocab


def build_model(cfg: ModelConfig, src_vocab: Vocab, tgt_vocab: Vocab) -> Transformer:
    """A freshly initialised Transformer sized for the two vocabularies."""
    return Transformer(
        cfg, len(src_vocab), len(tgt_vocab),
        SpecialIds(src_vocab.pad_id, src_vocab.bos_id, src_vocab.eos_id),
        SpecialIds(tgt_vocab.pad_id, tgt_vocab.bos_id, tgt_vocab.eos_id),
    )


__all__ = ["SpecialIds", "StepOutput", "Transformer", "build_model"]
