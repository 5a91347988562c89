"""Export a trained hanyi model to other inference engines (today: CTranslate2)."""

from hanyi.export.ctranslate2 import EXPORT_META, QUANTIZATIONS, export_ctranslate2, is_export_dir

__all__ = ["EXPORT_META", "QUANTIZATIONS", "export_ctranslate2", "is_export_dir"]
