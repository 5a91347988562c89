"""Attention: projections (`MultiHeadAttention`) and swappable kernels chosen by name.

``ATTENTION_KERNELS`` is an explicit dict, name -> kernel class. To add a kernel, write
one file with a header (idea, paper, cost, exact or approximate), add it here, and the
contract tests in ``tests/test_attention_kernels.py`` check it against `reference`.
"""

from hanyi.errors import ConfigError
from hanyi.model.attention.base import AttentionKernel
from hanyi.model.attention.reference import ReferenceAttention
from hanyi.model.attention.sdpa import SDPAAttention

ATTENTION_KERNELS: dict[str, type[AttentionKernel]] = {
    "reference": ReferenceAttention,
    "sdpa": SDPAAttention,
}


def get_kernel(name: str) -> type[AttentionKernel]:
    try:
        return ATTENTION_KERNELS[name]
    except KeyError:
        valid = ", ".join(sorted(ATTENTION_KERNELS))
        raise ConfigError(f"unknown attention kernel {name!r}; choose one of {valid}") from None


from hanyi.model.attention.multihead import MultiHeadAttention  # noqa: E402  (needs the registry)

__all__ = ["ATTENTION_KERNELS", "AttentionKernel", "MultiHeadAttention", "get_kernel"]
