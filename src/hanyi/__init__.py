"""hanyi (汉译): an annotated English→Chinese Transformer translator.

Public API (imported lazily so `import hanyi` stays cheap):

    from hanyi import Translator
    tr = Translator.load("models/hanyi-en-zh")
    tr.translate(["How are you?"])
"""

from hanyi.version import __version__

__all__ = ["Translator", "__version__", "build_model"]


def __getattr__(name):  # PEP 562: lazy imports keep the CLI's --help fast
    if name == "Translator":
        from hanyi.inference.translator import Translator

        return Translator
    if name == "build_model":
        from hanyi.model import build_model

        return build_model
    raise AttributeError(name)
