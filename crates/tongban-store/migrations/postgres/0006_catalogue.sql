-- The resource catalogue (政务信息资源目录): what each department shares,
-- searchable in Chinese. `catalogue` holds the current version of each
-- resource, `catalogue_versions` every version as published. `grams` holds
-- the CJK characters and bigrams and the lower-case words of the searchable
-- text (computed by the store, independent of the database's locale) under
-- a GIN index; a search narrows by it, then checks substrings.

CREATE TABLE catalogue (
    id                  TEXT PRIMARY KEY,
    version             BIGINT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    provider            TEXT NOT NULL REFERENCES departments(code),
    region_code         TEXT NOT NULL,
    schema              TEXT NOT NULL,
    fields              TEXT NOT NULL,
    sharing_type        TEXT NOT NULL,
    update_frequency    TEXT NOT NULL,
    tags                TEXT NOT NULL,
    status              TEXT NOT NULL,
    search_text         TEXT NOT NULL,
    grams               TEXT[] NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX catalogue_provider ON catalogue(provider, status);
CREATE INDEX catalogue_region ON catalogue(region_code, status);
CREATE INDEX catalogue_grams ON catalogue USING GIN (grams);

CREATE TABLE catalogue_versions (
    id                  TEXT NOT NULL,
    version             BIGINT NOT NULL,
    content             TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);
