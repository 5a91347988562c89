"""Text in, text out: normalise -> tokenize -> batch -> search -> detokenize."""

from hanyi.inference.translator import Translation, Translator, default_model_path

__all__ = ["Translation", "Translator", "default_model_path"]
