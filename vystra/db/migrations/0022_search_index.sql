-- Issue #14: which embedding model the vectors in segments.embedding come from, so every process
-- embeds queries and new units with that model, and `vystra reindex` can move the whole index to
-- another one (of any dimension) and switch over in one transaction. One row; empty until the
-- first platform process registers its configured model.
CREATE TABLE search_index (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model       text NOT NULL,     -- what loads it: minilm, e5-multilingual or a model folder
    name        text NOT NULL,     -- the loaded model's name, as videos.embedding_model records it
    dim         integer NOT NULL CHECK (dim > 0),
    switched_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON search_index TO vystra_worker;

-- Each re-index, its progress and outcome.
CREATE TABLE reindex_runs (
    id          uuid PRIMARY KEY,
    model       text NOT NULL,
    name        text,
    dim         integer,
    status      text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    total       integer NOT NULL DEFAULT 0,
    done        integer NOT NULL DEFAULT 0,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX reindex_runs_created ON reindex_runs (created_at DESC);


-- While a re-index fills segments.embedding_next, a unit re-written with other text or vectors
-- (a re-run ingest) loses its new vectors, so the re-index embeds it again before switching.
-- The trigger exists only while those columns do (vystra.reindex).
CREATE FUNCTION vystra_reindex_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.text IS DISTINCT FROM OLD.text OR NEW.embedding IS DISTINCT FROM OLD.embedding THEN
        NEW.embedding_next := NULL;
        NEW.sentence_vectors_next := NULL;
    END IF;
    RETURN NEW;
END
$$;
