# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---
# ruff: noqa: E402

# %% [markdown]
# # The Transformer, piece by piece: a walkthrough of hanyi
#
# Written for hanyi 0.2.0. Read it beside "Attention Is All You Need" (Vaswani et al. 2017):
# every cell imports the real `hanyi` package (no copy of the model lives here) and runs one
# piece of the paper on a toy input, in the paper's order.
#
# **Format.** A jupytext "percent" script: `# %%` starts a code cell, `# %% [markdown]` a
# prose cell. Why not a notebook? This file diffs like code in review, ruff lints it, and
# it runs as a plain script (`python docs/walkthrough.py`), which is how CI executes it
# (`tests/test_walkthrough.py`), so it cannot silently rot. Jupytext is not needed to run
# it; with jupytext installed, `jupytext --to notebook docs/walkthrough.py` makes a notebook.
# Figures are written to `$HANYI_WALKTHROUGH_OUT` (default `walkthrough-figures/`).
#
# **Deviations** from the paper are flagged where they occur (look for "Deviation").

# %%
import math
import os
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import torch

import hanyi
from hanyi.version import __version__

OUT = Path(os.environ.get("HANYI_WALKTHROUGH_OUT", "walkthrough-figures"))
OUT.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
torch.set_printoptions(precision=3, sci_mode=False)
print(f"hanyi {__version__} from {Path(hanyi.__file__).parent}")


def save(fig, name: str) -> None:
    """Write a figure under OUT; outside a notebook, close it (a script has no screen)."""
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=80)
    if "inline" not in matplotlib.get_backend():
        plt.close(fig)
    print(f"figure: {OUT / name}")


# %% [markdown]
# ## 1. Embeddings and positional encoding (§3.4, §3.5)
#
# Tokens become vectors of size d_model through a learned table, multiplied by √d_model
# (§3.4). Attention ignores order, so §3.5 adds a fixed sinusoid per position:
# PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same).

# %%
from hanyi.model.embeddings import ScaledEmbedding, SinusoidalPositions, sinusoidal_table

d_model = 16
embed = ScaledEmbedding(vocab_size=10, d_model=d_model, pad_id=0)
positions = SinusoidalPositions(d_model, max_len=50)
tokens = torch.tensor([[5, 7, 9, 0]])  # (B=1, T=4), id 0 is <pad>
x = positions(embed(tokens))  # (B, T, D)
print("tokens", tuple(tokens.shape), "-> embedded + positions", tuple(x.shape))

table = sinusoidal_table(100, 64)  # (positions, D)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3))
for dim in (0, 1, 8, 30):
    left.plot(table[:, dim], label=f"dim {dim}")
left.set(title="PE(pos, dim): one wavelength per dimension", xlabel="position")
left.legend()
right.imshow(table.T, aspect="auto", cmap="RdBu")
right.set(title="the whole table", xlabel="position", ylabel="dimension")
save(fig, "positional_encoding.png")

# %% [markdown]
# ## 2. Masks (§3.2.3)
#
# One convention everywhere: a boolean mask, True = "this query may attend to this key".
# Padding hides padded *keys*; the causal mask hides *later* target positions from the
# decoder. `hanyi.model.masks` is the only module that builds them.

# %%
from hanyi.model.masks import AttentionMask, causal_mask, padding_mask

batch = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]])  # second sentence padded
keys_real = padding_mask(batch, pad_id=0)  # (B, T)
combined = AttentionMask(key_padding=keys_real, causal=True).dense(5, 5, batch.device)
print("padding mask (B, T):\n", keys_real.int())
print("causal mask (T, T):\n", causal_mask(5).int())
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, (title, m) in zip(axes, [("padding (sentence 2)", keys_real[1].expand(5, 5)),
                                 ("causal", causal_mask(5)),
                                 ("padding & causal", combined[1, 0])], strict=True):
    ax.imshow(m, cmap="Greens", vmin=0, vmax=1)
    ax.set(title=title, xlabel="key", ylabel="query")
save(fig, "masks.png")

# %% [markdown]
# ## 3. Scaled dot-product attention, Eq. 1 (§3.2.1)
#
# Attention(Q, K, V) = softmax(QKᵀ / √d_k) V. Three keys, one query that resembles the
# second key: the weights should favour key 2, and the output should lean to value 2.

# %%
from hanyi.model.attention.reference import attention

q = torch.tensor([[[[0.0, 2.0]]]])  # (B=1, H=1, Tq=1, d_k=2)
k = torch.tensor([[[[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]]]])  # (1, 1, Tk=3, 2)
v = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]]])  # (1, 1, 3, d_v=2)
out, weights = attention(q, k, v, AttentionMask())
by_hand = torch.softmax(torch.tensor([0.0, 4.0, 2.0]) / math.sqrt(2), dim=0)  # q·k_j / √2
print("weights", weights.flatten(), "by hand", by_hand)
print("output ", out.flatten(), "= weights @ V")
assert torch.allclose(weights.flatten(), by_hand)
# With padding, a padded key gets exactly zero weight:
_, w = attention(q, k, v, AttentionMask(key_padding=torch.tensor([[True, False, True]])))
print("key 2 padded ->", w.flatten())

# %% [markdown]
# ## 4. Multi-head attention (§3.2.2)
#
# h heads, each attending in its own d_k = d_v = d_model / h subspace (our legend: Dh).
# Why several? "Multi-head attention allows the model to jointly attend to information
# from different representation subspaces at different positions." We follow the tensors
# through `MultiHeadAttention` (Deviation, speed only: Q, K, V come from one fused Linear).

# %%
from hanyi.model.attention import MultiHeadAttention
from hanyi.model.attention.reference import ReferenceAttention

mha = MultiHeadAttention(d_model=8, n_heads=2, kernel=ReferenceAttention())
x = torch.randn(2, 5, 8)  # (B, T, D)
q, k, v = mha.qkv_proj(x).chunk(3, dim=-1)
print("x", tuple(x.shape), "-> q, k, v", tuple(q.shape), "each (B, T, D)")
qh = mha.split_heads(q)
print("split_heads:", tuple(qh.shape), "(B, H, T, Dh)")
heads, w = mha.kernel(qh, mha.split_heads(k), mha.split_heads(v), AttentionMask(), True)
print("attention per head:", tuple(heads.shape), "weights", tuple(w.shape), "(B, H, Tq, Tk)")
print("merge_heads:", tuple(mha.merge_heads(heads).shape), "(B, T, D), then W^O")
result = mha(x, AttentionMask(), need_weights=True)  # the same, in one call
print("MultiHeadAttention(x).out", tuple(result.out.shape))

# %% [markdown]
# ## 5. One encoder layer and one decoder layer (§3.1, §3.3)
#
# Encoder layer: self-attention, then the position-wise feed-forward network
# FFN(x) = max(0, xW1 + b1)W2 + b2, each inside "Add & Norm". Decoder layer: masked
# self-attention, attention over the encoder's output ("memory"), then the FFN.
# Deviation: hanyi's default normalises *before* each sub-layer (pre-LN); the paper's
# post-LN is `norm_position="post"`, used below.

# %%
from hanyi.model.attention.sdpa import SDPAAttention
from hanyi.model.layers import DecoderLayer, EncoderLayer

enc_layer = EncoderLayer(8, 2, 32, dropout=0.0, norm_position="post", kernel=SDPAAttention())
src_real = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])  # (B, S)
memory = enc_layer(torch.randn(2, 5, 8), AttentionMask(key_padding=src_real))
print("encoder layer: (B, S, D) ->", tuple(memory.shape))
dec_layer = DecoderLayer(8, 2, 32, 0.0, "post", SDPAAttention(), SDPAAttention())
dec = dec_layer(torch.randn(2, 4, 8), memory, AttentionMask(causal=True),
                AttentionMask(key_padding=src_real), need_weights=True)
print("decoder layer: x", tuple(dec.x.shape), "cross-attention", tuple(dec.cross_weights.shape))
print("no weight on padded source positions:", dec.cross_weights[1, :, :, 3:].abs().max().item())

# %% [markdown]
# ## 6. The full model on a toy batch (§3, Figure 1)
#
# `Transformer` = embeddings + positions, a stack of encoder layers, a stack of decoder
# layers, and a Linear to vocabulary logits. Deviation (§3.4): the paper shares one weight
# matrix between "the two embedding layers and the pre-softmax linear transformation";
# hanyi has separate English and Chinese vocabularies, so it ties only the target
# embedding to the output projection.

# %%
from hanyi.config import ModelConfig
from hanyi.model import SpecialIds, Transformer

IDS = SpecialIds(pad=0, bos=1, eos=2)
cfg = ModelConfig(d_model=32, n_heads=4, d_ff=64, encoder_layers=2, decoder_layers=2,
                  dropout=0.0)
model = Transformer(cfg, src_vocab_size=12, tgt_vocab_size=12, src_ids=IDS, tgt_ids=IDS)
src = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])  # (B, S)
tgt_in = torch.tensor([[1, 5, 6, 7], [1, 8, 9, 0]])  # (B, T): <s> then the target
logits = model(src, tgt_in)
print("src", tuple(src.shape), "tgt_in", tuple(tgt_in.shape), "-> logits", tuple(logits.shape))
print("tied:", model.output_proj.weight is model.tgt_embed.weight)
print("parameters:", sum(p.numel() for p in model.parameters()))

# %% [markdown]
# ## 7. Label smoothing (§5.4)
#
# "we employed label smoothing of value ε_ls = 0.1": the target distribution is
# (1 − ε) on the right token plus ε spread uniformly. Deviation (tiny): PyTorch's
# `label_smoothing`, which hanyi uses, spreads ε over all V classes, padding included;
# the Annotated Transformer puts none on padding.

# %%
from hanyi.training.loss import label_smoothed_nll

eps, V = 0.1, 12
log_p = logits.float().log_softmax(-1)  # (B, T, V)
tgt_out = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])  # what to predict; 0 = padding
loss, nll = label_smoothed_nll(logits, tgt_out, pad_id=0, smoothing=eps)
real = tgt_out != 0
ours = ((1 - eps) * -log_p.gather(-1, tgt_out[..., None])[..., 0] - eps / V * log_p.sum(-1))
print(f"hanyi {loss.item():.4f}  by hand {ours[real].sum().item():.4f}  plain NLL {nll.item():.4f}")
assert torch.isclose(loss, ours[real].sum(), atol=1e-4)
smooth = torch.full((V,), eps / (V - 2))  # the Annotated Transformer's: nothing on <pad>
smooth[0], smooth[5] = 0.0, 1 - eps
print("annotated-style loss of the first token:", -(smooth * log_p[0, 0]).sum().item())

# %% [markdown]
# ## 8. The learning-rate schedule (§5.3, Eq. 3)
#
# lrate = d_model^−0.5 · min(step^−0.5, step · warmup^−1.5). hanyi writes the same curve
# through its peak `train.lr` (reached at step = warmup). Below: the paper's formula,
# computed here independently, against `hanyi.training.optim.learning_rate`.

# %%
from hanyi.config import TrainConfig
from hanyi.training.optim import learning_rate

d, warmup = 512, 4000
steps = list(range(1, 40_001, 50))
paper = [d ** -0.5 * min(s ** -0.5, s * warmup ** -1.5) for s in steps]
tc = TrainConfig(lr=d ** -0.5 * warmup ** -0.5, warmup_steps=warmup)
hanyi_lr = [learning_rate(s, tc) for s in steps]
assert max(abs(a - b) for a, b in zip(paper, hanyi_lr, strict=True)) < 1e-12
print(f"peak {max(paper):.2e} at step {warmup}; curves identical")
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(steps, paper, lw=4, alpha=0.4, label="paper, Eq. 3")
ax.plot(steps, hanyi_lr, "k--", label="hanyi learning_rate")
ax.set(xlabel="step", ylabel="learning rate", title="warm-up, then 1/√step")
ax.legend()
save(fig, "learning_rate.png")

# %% [markdown]
# ## 9. A tiny model learns to copy
#
# The classic sanity check: source = a random sequence, target = the same sequence.
# hanyi's real training step (`train_step`: label-smoothed loss, AdamW, clipping) and
# schedule, a few hundred updates on the CPU.

# %%
from hanyi.data.batch import collate
from hanyi.training.distributed import Distributed
from hanyi.training.optim import build_optimizer
from hanyi.training.trainer import train_step


def copy_batch(gen: torch.Generator, n: int = 64, vocab: int = 12):
    lengths = torch.randint(3, 8, (n,), generator=gen).tolist()
    seqs = [torch.randint(3, vocab, (k,), generator=gen).tolist() for k in lengths]
    return collate(seqs, seqs, IDS.pad, IDS.pad, IDS.bos, IDS.eos)


torch.manual_seed(0)
copier = Transformer(ModelConfig(d_model=64, n_heads=4, d_ff=128, encoder_layers=2,
                                 decoder_layers=2, dropout=0.0), 12, 12, IDS, IDS)
train_cfg = TrainConfig(lr=3e-3, warmup_steps=50, label_smoothing=0.0)
optimizer = build_optimizer(copier, train_cfg)
gen, start, losses = torch.Generator().manual_seed(0), time.perf_counter(), []
for step in range(1, 251):
    metrics = train_step(copier, [copy_batch(gen)], optimizer, learning_rate(step, train_cfg),
                         train_cfg, IDS.pad, torch.device("cpu"), Distributed())
    losses.append(metrics["loss"])
print(f"loss {losses[0]:.2f} -> {losses[-1]:.3f} in {time.perf_counter() - start:.1f} s")
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(losses)
ax.set(xlabel="update", ylabel="loss per token", yscale="log", title="copy task")
save(fig, "copy_task_loss.png")

# %% [markdown]
# ## 10. Greedy search vs beam search
#
# The model only gives P(next token | prefix, source). Greedy search takes the most likely
# token at each step; beam search keeps the K best prefixes. Both live in `hanyi.decoding`
# and call only `model.encode` and `model.decode_step`.
# Deviations (§6.1 uses beam 4, "length penalty α = 0.6", and "maximum output length ...
# input length + 50"): hanyi ranks hypotheses by log P / |Y|^α (GNMT's penalty is
# ((5 + |Y|) / 6)^α) and caps the output at a·S + b tokens (`decode.max_len_a/b`).

# %%
from hanyi.config import DecodeConfig
from hanyi.decoding import beam_search, greedy_search

copier.eval()
test = copy_batch(torch.Generator().manual_seed(99), n=50)
wanted = [[t for t in row if t != IDS.pad] for row in test.src.tolist()]
with torch.no_grad():
    greedy = greedy_search(copier, test.src, DecodeConfig(beam_size=1, max_len_a=1.0,
                                                          max_len_b=2))
    beam = beam_search(copier, test.src, DecodeConfig(beam_size=4, nbest=2, max_len_a=1.0,
                                                      max_len_b=2))
for name, hyps in (("greedy", greedy), ("beam 4", beam)):
    exact = sum(h[0].tokens == w for h, w in zip(hyps, wanted, strict=True)) / len(wanted)
    print(f"{name}: {exact:.0%} copied exactly")
print("source      ", wanted[0])
print("greedy      ", greedy[0][0].tokens, f"score {greedy[0][0].score:.3f}")
for h in beam[0]:
    print("beam n-best ", h.tokens, f"score {h.score:.3f}")

# %% [markdown]
# ## 11. The shipped model: a real translation and its cross-attention
#
# `models/hanyi-en-zh` (see models/README.md: far smaller than the paper's base model).
# We ask for the decoder's cross-attention: for each Chinese output token, how much each
# head of the last layer looked at each English source piece. Attention weights come from
# our PyTorch model, so we load it with `engine="torch"` (by default a CPU runs the
# model's CTranslate2 export, which is faster but does not return them).

# %%
from matplotlib import font_manager

from hanyi.inference import Translator

docs = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # notebook
translator = Translator.load(docs.parent / "models" / "hanyi-en-zh", engine="torch")
result = translator.translate(["The weather is nice today."], need_attention=True)[0]
print("→", result.text)
att = result.attention[-1].mean(0)  # last layer, heads averaged: (T, S)
fonts = {f.name for f in font_manager.fontManager.ttflist}
cjk = [f for f in ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC") if f in fonts]
fig, ax = plt.subplots(figsize=(6, 4))
ax.imshow(att, cmap="Blues")
ax.set_xticks(range(att.size(1)), result.src_tokens[:att.size(1)], rotation=60)
ax.set_yticks(range(att.size(0)), result.tgt_tokens[:att.size(0)],
              fontfamily=cjk[0] if cjk else None)
ax.set(title="cross-attention, last layer", xlabel="source", ylabel="output")
save(fig, "cross_attention.png")
