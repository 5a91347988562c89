"""Typed configuration: one dataclass per concern (``sections.py``; the decode settings,
read at translation time, in ``decode.py``), loaded from YAML (``loading.py``). Every
default lives in those two files and only there."""

from hanyi.config.loading import (
    apply_overrides,
    config_from_yaml_text,
    config_to_yaml,
    decode_with_overrides,
    from_dict,
    load_config,
    parse_override,
    read_yaml,
    replace,
    to_dict,
)
from hanyi.config.sections import (
    DataConfig,
    DecodeConfig,
    EvalSetConfig,
    ExperimentConfig,
    ModelConfig,
    Rate,
    ServeConfig,
    SourceConfig,
    TokenizerConfig,
    TrainConfig,
)

__all__ = [
    "DataConfig", "DecodeConfig", "EvalSetConfig", "ExperimentConfig", "ModelConfig",
    "Rate", "ServeConfig", "SourceConfig", "TokenizerConfig", "TrainConfig", "apply_overrides",
    "config_from_yaml_text", "config_to_yaml", "decode_with_overrides", "from_dict",
    "load_config", "parse_override", "read_yaml", "replace", "to_dict",
]
