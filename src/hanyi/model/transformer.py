"""The encoder-decoder Transformer (§3, Figure 1), with the two entry points search uses:

    memory, src_padding = model.encode(src)                        # once per batch
    log_probs, cache, attention = model.decode_step(tgt, memory, src_padding, cache)

The encoder turns the source sentence into ``memory``: one D-wide vector per source token
(B, S, D), the decoder's only view of the source (the name comes from §3.2.3's "memory keys
and values"). ``forward(src, tgt_in)`` runs both at once over a whole target prefix for
training ("teacher forcing"). Decoding strategies (greedy, beam) live in ``hanyi.decoding``
and call only ``encode`` and ``decode_step``; the model keeps no state between calls.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from hanyi.config import ModelConfig
from hanyi.model.attention import build_kernel
from hanyi.model.cache import DecoderCache
from hanyi.model.embeddings import ScaledEmbedding, SinusoidalPositions
from hanyi.model.layers import DecoderLayer, EncoderLayer
from hanyi.model.masks import AttentionMask, padding_mask


class SpecialIds(NamedTuple):
    pad: int
    bos: int
    eos: int
    unk: int | None = None  # never generated (decoding/constraints.py); a toy model has none


class Decoded(NamedTuple):
    hidden: torch.Tensor  # (B, T, D), after the decoder's final LayerNorm (pre-LN)
    cache: DecoderCache  # keys and values of every position so far
    attention: torch.Tensor | None  # (L, B, H, T, S) cross-attention per layer, if asked


class StepOutput(NamedTuple):
    log_probs: torch.Tensor  # (B, V) for the last new position, float32
    cache: DecoderCache
    attention: torch.Tensor | None  # (L, B, H, S) cross-attention of that position, if asked


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int,
                 src_ids: SpecialIds, tgt_ids: SpecialIds):
        super().__init__()
        self.cfg = cfg
        self.src_ids, self.tgt_ids = src_ids, tgt_ids
        d, drop = cfg.d_model, cfg.dropout
        self.src_embed = ScaledEmbedding(src_vocab_size, d, src_ids.pad)
        self.tgt_embed = ScaledEmbedding(tgt_vocab_size, d, tgt_ids.pad)
        self.positions = SinusoidalPositions(d, cfg.max_positions)
        self.embed_dropout = nn.Dropout(drop)  # §5.4: dropout on embeddings + positions

        # The attention kernel of each site, chosen by name in the config (default `sdpa`).
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(d, cfg.n_heads, cfg.d_ff, drop, cfg.norm_position,
                         build_kernel(cfg, "encoder"))
            for _ in range(cfg.encoder_layers))
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(d, cfg.n_heads, cfg.d_ff, drop, cfg.norm_position,
                         build_kernel(cfg, "decoder"), build_kernel(cfg, "cross"))
            for _ in range(cfg.decoder_layers))
        # Pre-LN leaves the residual stream un-normalised, so a final LayerNorm closes each
        # stack (deviation: the paper, post-LN, has none).
        pre = cfg.norm_position == "pre"
        self.encoder_norm = nn.LayerNorm(d) if pre else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d) if pre else nn.Identity()
        # §3.4: "In our model, we share the same weight matrix between the two embedding
        # layers and the pre-softmax linear transformation, similar to [30]."
        # DEVIATION: we tie only the *target* embedding and the output projection
        # (model.tie_target_embeddings): our two languages have separate vocabularies
        # (an English and a Chinese SentencePiece model), so there is no one matrix that
        # could serve the source embedding too.
        self.output_proj = nn.Linear(d, tgt_vocab_size, bias=False)
        self._init_weights()
        if cfg.tie_target_embeddings:
            self.output_proj.weight = self.tgt_embed.weight

    def _init_weights(self) -> None:
        # Xavier/Glorot for every projection, as in the reference tensor2tensor code.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    # ----------------------------------------------------------------- encoder
    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src: (B, S) ids -> memory (B, S, D) and src_padding (B, S) bool (True = real).

        ``memory`` is the encoder's output, which every decoder layer's cross-attention
        reads; ``src_padding`` goes with it so that no one attends to padded source tokens."""
        src_padding = padding_mask(src, self.src_ids.pad)  # (B, S)
        mask = AttentionMask(key_padding=src_padding)
        x = self.embed_dropout(self.positions(self.src_embed(src)))  # (B, S, D)
        for layer in self.encoder_layers:
            x = layer(x, mask)  # (B, S, D)
        return self.encoder_norm(x), src_padding

    # ----------------------------------------------------------------- decoder
    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_padding: torch.Tensor,
               cache: DecoderCache | None = None, need_weights: bool = False) -> Decoded:
        """Run the decoder over ``tgt`` (B, T): new positions after ``cache.length`` earlier
        ones (none without a cache)."""
        offset = 0 if cache is None else cache.length
        # Causal self-attention: position i sees target positions <= i (§3.2.3). Target
        # padding sits at the end of each row, so causality alone keeps real tokens from
        # seeing it; no key-padding mask is needed here.
        self_mask = AttentionMask(causal=True, offset=offset)
        cross_mask = AttentionMask(key_padding=src_padding)
        x = self.embed_dropout(self.positions(self.tgt_embed(tgt), offset))  # (B, T, D)
        new_cache = DecoderCache.empty(len(self.decoder_layers))
        new_cache.length = offset + tgt.size(1)
        weights = []
        for i, layer in enumerate(self.decoder_layers):
            out = layer(x, memory, self_mask, cross_mask,
                        self_cache=None if cache is None else cache.self_attn[i],
                        cross_cache=None if cache is None else cache.cross_attn[i],
                        need_weights=need_weights)
            x = out.x  # (B, T, D)
            new_cache.self_attn[i], new_cache.cross_attn[i] = out.self_kv, out.cross_kv
            weights.append(out.cross_weights)
        attention = torch.stack(weights) if need_weights else None  # (L, B, H, T, S)
        return Decoded(self.decoder_norm(x), new_cache, attention)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, V) pre-softmax scores."""
        return self.output_proj(hidden)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: src (B, S), tgt_in (B, T) -> logits (B, T, V)."""
        memory, src_padding = self.encode(src)
        return self.logits(self.decode(tgt_in, memory, src_padding).hidden)

    def decode_step(self, tgt: torch.Tensor, memory: torch.Tensor, src_padding: torch.Tensor,
                    cache: DecoderCache | None, need_weights: bool = False) -> StepOutput:
        """One search step. ``tgt``: (B, t) tokens not yet in ``cache`` (usually t = 1; with
        ``cache=None`` the whole prefix, recomputed). Returns log-probabilities (B, V) of the
        next token, in float32 whatever the autocast dtype."""
        hidden, cache, attention = self.decode(tgt, memory, src_padding, cache, need_weights)
        log_probs = self.logits(hidden[:, -1]).float().log_softmax(dim=-1)  # (B, V)
        if attention is not None:
            attention = attention[:, :, :, -1]  # (L, B, H, S)
        return StepOutput(log_probs, cache, attention)

    def start_tokens(self, batch_size: int, device: torch.device) -> torch.Tensor:
        """(B, 1) of <s>: the first decoder input."""
        return torch.full((batch_size, 1), self.tgt_ids.bos, dtype=torch.long, device=device)
