-- The resource catalogue (政务信息资源目录): what each department shares,
-- searchable in Chinese. `catalogue` holds the current version of each
-- resource, `catalogue_versions` every version as published.
-- `catalogue_search` is an FTS5 index over text pre-split by the store into
-- CJK bigrams (plus the last character of each run) and lower-case words,
-- so that a Chinese term of any length is a phrase query; its rowid is the
-- catalogue row's rowid.

CREATE TABLE catalogue (
    id                  TEXT PRIMARY KEY,
    version             INTEGER NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    provider            TEXT NOT NULL REFERENCES departments(code),
    region_code         TEXT NOT NULL,
    schema              TEXT NOT NULL,
    fields              TEXT NOT NULL,   -- JSON array of {"name", "label"}
    sharing_type        TEXT NOT NULL,   -- unconditional | conditional | not-shared
    update_frequency    TEXT NOT NULL,
    tags                TEXT NOT NULL,   -- JSON array of strings
    status              TEXT NOT NULL,   -- published | retired
    search_text         TEXT NOT NULL,   -- lower-case name, tags, labels, description
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX catalogue_provider ON catalogue(provider, status);
CREATE INDEX catalogue_region ON catalogue(region_code, status);

CREATE TABLE catalogue_versions (
    id                  TEXT NOT NULL,
    version             INTEGER NOT NULL,
    content             TEXT NOT NULL,   -- the version as JSON
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE VIRTUAL TABLE catalogue_search USING fts5(
    name, tags, labels, description,
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1'
);
