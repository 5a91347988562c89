"""Export a trained hanyi model to other inference engines (today: CTranslate2), and as
the shipped model's layout (float16 weights + their CTranslate2 export: release.py)."""

from hanyi.checkpoint import EXPORT_META, is_export_dir
from hanyi.export.ctranslate2 import QUANTIZATIONS, export_ctranslate2
from hanyi.export.release import export_release

__all__ = ["EXPORT_META", "QUANTIZATIONS", "export_ctranslate2", "export_release",
           "is_export_dir"]
