"""The DeBERTa-RAD distillation recipe: teacher -> student -> ONNX -> evaluated model bundle.

Stages (`teachers`, `train`, `export`, `evaluate`, `bundle`) each take a typed config and write
a file or directory the next stage reads. Heavy optional dependencies (torch, transformers,
httpx) are imported inside the stages that need them, with an install hint when missing.
"""

from __future__ import annotations
