-- The working-day calendar: one row per year loaded by an administrator
-- (a year's holidays and make-up working days, as the State Council
-- publishes them), kept as the checked document. A year loaded again
-- replaces its row; the audit log keeps every load.
CREATE TABLE calendar_years (
    year        INTEGER PRIMARY KEY,
    document    TEXT NOT NULL,             -- the year's JSON document, as checked
    loaded_at   BIGINT NOT NULL,
    loaded_by   TEXT NOT NULL
);
