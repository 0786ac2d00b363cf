-- Refused exchanges, counted per day, department, resource and code (the
-- hub aggregates in memory and adds its counts every second), for the
-- statistics a service centre reports. Accepted exchanges are counted from
-- `messages` and `deliveries` themselves.
CREATE TABLE exchange_refusals (
    day             TEXT NOT NULL,                 -- YYYY-MM-DD, UTC
    department      TEXT NOT NULL,
    resource        TEXT NOT NULL,                 -- '' when the envelope named none
    code            TEXT NOT NULL,
    count           BIGINT NOT NULL,
    PRIMARY KEY (day, department, resource, code)
);
