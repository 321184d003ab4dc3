-- Issue #14: each unit's sentences embedded at ingest, so search can rerank candidates by their
-- best sentence and start the link there without embedding sentences per query. Packed by
-- vystra.moments.pack_vectors: per sentence a float32 scale and 384 int8 components (388
-- bytes), in the order vystra.moments.sentences() splits the unit's text. NULL: not computed
-- (older rows), and search falls back to embedding the sentences of the page's moments.
ALTER TABLE segments ADD COLUMN sentence_vectors bytea;
