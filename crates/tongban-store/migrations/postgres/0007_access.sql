-- Applications for access to conditionally shared catalogue resources
-- (有条件共享): a consumer applies with a stated purpose and period, the
-- provider approves or rejects, and may withdraw an approval.
CREATE TABLE access_applications (
    id              BIGSERIAL PRIMARY KEY,
    resource        TEXT NOT NULL REFERENCES catalogue(id),
    consumer        TEXT NOT NULL REFERENCES departments(code),
    purpose         TEXT NOT NULL,
    valid_from      BIGINT NOT NULL,
    valid_until     BIGINT NOT NULL,
    status          TEXT NOT NULL,   -- pending | approved | rejected | withdrawn
    decided_by      TEXT,
    decided_at      BIGINT,
    reason          TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX access_applications_consumer ON access_applications(consumer, resource, status);
CREATE INDEX access_applications_resource ON access_applications(resource, status);
