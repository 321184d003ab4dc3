-- Issue #14: when each word of a search unit is spoken, so a result can start at the sentence
-- that answers. word_starts[i] (seconds, real: 4 bytes a word) is when the word beginning at
-- character word_offsets[i] (0-based) of `text` is spoken. NULL for units without word times
-- (older rows, or a transcriber that gives none): those results start at the unit's start.
ALTER TABLE segments ADD COLUMN word_starts real[], ADD COLUMN word_offsets integer[];
