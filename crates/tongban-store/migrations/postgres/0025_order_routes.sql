-- 12345 routing rules (派单规则): orders of a category (`*`: every
-- category) from an area starting with `area` (empty: every area) are
-- dispatched to `unit` when the office creates them without naming one.
-- The most specific rule wins (longest area, then a category's own rule);
-- `tongban_supervision::hotline::route_for` decides.
CREATE TABLE order_routes (
    category        TEXT NOT NULL,             -- a work order category, or * for every category
    area            TEXT NOT NULL,             -- the start of the areas covered; '' for every area
    unit            TEXT NOT NULL REFERENCES departments(code),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (category, area)
);
