-- Issue #14: full-text search in the video's language. Each unit's tsvector is built with the
-- Postgres text-search configuration of its video's detected language (stemming and stop
-- words), `simple` (no stemming) for languages Postgres has none for, `english` while the
-- language is unknown (rows written before this migration).
CREATE FUNCTION vystra_ts_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE lower(split_part(language, '-', 1))
        WHEN 'ar' THEN 'arabic' WHEN 'hy' THEN 'armenian' WHEN 'eu' THEN 'basque'
        WHEN 'ca' THEN 'catalan' WHEN 'da' THEN 'danish' WHEN 'nl' THEN 'dutch'
        WHEN 'en' THEN 'english' WHEN 'et' THEN 'estonian' WHEN 'fi' THEN 'finnish'
        WHEN 'fr' THEN 'french' WHEN 'de' THEN 'german' WHEN 'el' THEN 'greek'
        WHEN 'hi' THEN 'hindi' WHEN 'hu' THEN 'hungarian' WHEN 'id' THEN 'indonesian'
        WHEN 'ga' THEN 'irish' WHEN 'it' THEN 'italian' WHEN 'lt' THEN 'lithuanian'
        WHEN 'ne' THEN 'nepali' WHEN 'no' THEN 'norwegian' WHEN 'nb' THEN 'norwegian'
        WHEN 'nn' THEN 'norwegian' WHEN 'pt' THEN 'portuguese' WHEN 'ro' THEN 'romanian'
        WHEN 'ru' THEN 'russian' WHEN 'sr' THEN 'serbian' WHEN 'es' THEN 'spanish'
        WHEN 'sv' THEN 'swedish' WHEN 'ta' THEN 'tamil' WHEN 'tr' THEN 'turkish'
        WHEN 'yi' THEN 'yiddish'
        ELSE CASE WHEN language IS NULL THEN 'english' ELSE 'simple' END
    END::regconfig
$$;

ALTER TABLE segments ADD COLUMN ts_config regconfig NOT NULL DEFAULT 'english';
DROP INDEX segments_tsv_gin;
ALTER TABLE segments DROP COLUMN tsv;
ALTER TABLE segments ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (to_tsvector(ts_config, text)) STORED;
CREATE INDEX segments_tsv_gin ON segments USING gin (tsv);
