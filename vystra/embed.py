"""Stage 5, embed: text to 384-d unit vectors with fastembed (ONNX, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vystra.errors import VystraError
from vystra.models import EMBEDDING_DIM, EMBEDDING_MODEL_NAME, default_embedding_model_dir
from vystra.settings import Settings


@dataclass(frozen=True)
class Embedder:
    """A loaded model; ``name`` is recorded with every video it embeds."""

    name: str
    path: Path
    batch_size: int
    _model: object

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 unit vectors, one row per text."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        rows = list(self._model.embed(list(texts), batch_size=self.batch_size))  # type: ignore[attr-defined]
        matrix = np.asarray(rows, dtype=np.float32)
        if matrix.shape[1] != EMBEDDING_DIM:
            raise VystraError(
                f"embedding model at {self.path} gives {matrix.shape[1]}-d vectors,"
                f" Vystra stores {EMBEDDING_DIM}-d"
            )
        return matrix

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


@lru_cache(maxsize=2)
def _load(path: Path, batch_size: int) -> Embedder:
    from fastembed import TextEmbedding

    if not (path / "model.onnx").exists():
        raise VystraError(f"no model.onnx in embedding model folder {path}")
    model = TextEmbedding(model_name=EMBEDDING_MODEL_NAME, specific_model_path=str(path))
    return Embedder(f"{EMBEDDING_MODEL_NAME}@{path.name}", path, batch_size, model)


def get_embedder(settings: Settings) -> Embedder:
    path = settings.embedding_model_path or default_embedding_model_dir(settings.models_path)
    return _load(Path(path).expanduser().resolve(), settings.embedding_batch_size)
