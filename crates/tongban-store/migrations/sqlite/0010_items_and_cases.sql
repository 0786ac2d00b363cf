-- Service items (事项) and the cases (办件) handled under them. A required
-- material may be satisfied by a licence type; a case's licence-use records
-- are `licence_uses` rows whose case_ref is the case's id and requester its
-- department (case numbers are the department's own); a concluded case
-- names the licence issued as its result.
CREATE TABLE service_items (
    code                TEXT PRIMARY KEY,          -- 事项编码
    version             BIGINT NOT NULL,
    name                TEXT NOT NULL,
    item_type           TEXT NOT NULL,             -- immediate | promised | joint | referred
    department          TEXT NOT NULL REFERENCES departments(code),
    region_code         TEXT NOT NULL,
    legal_limit_days    BIGINT NOT NULL,           -- 法定办结时限, working days
    promised_limit_days BIGINT NOT NULL,           -- 承诺办结时限, working days
    materials           TEXT NOT NULL,             -- JSON array of {name, licenceType, required}
    result_type         TEXT,                      -- licence type the approval result is issued as
    status              TEXT NOT NULL,             -- active | retired
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX service_items_department ON service_items(department);

CREATE TABLE cases (
    department          TEXT NOT NULL REFERENCES departments(code),
    id                  TEXT NOT NULL,             -- 办件编号, as the department's case system numbers it
    item                TEXT NOT NULL REFERENCES service_items(code),
    holder_code_type    TEXT NOT NULL,
    holder_code         TEXT NOT NULL,
    use_cause           TEXT NOT NULL,
    status              TEXT NOT NULL,             -- open | concluded
    result_licence      TEXT,
    opened_at           BIGINT NOT NULL,
    concluded_at        BIGINT,
    PRIMARY KEY (department, id)
);
CREATE INDEX cases_opened ON cases(department, opened_at);
CREATE INDEX cases_id ON cases(id);
CREATE INDEX licence_uses_case ON licence_uses(case_ref, requester);
