"""Export a trained hanyi model to other inference engines (today: CTranslate2)."""

from hanyi.checkpoint import EXPORT_META, is_export_dir
from hanyi.export.ctranslate2 import QUANTIZATIONS, export_ctranslate2

__all__ = ["EXPORT_META", "QUANTIZATIONS", "export_ctranslate2", "is_export_dir"]
