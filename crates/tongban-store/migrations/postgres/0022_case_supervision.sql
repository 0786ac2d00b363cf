-- Electronic supervision (电子监察) of cases: the events a department's case
-- system reports (受理, 补正, 特别程序, 办结, 评价, …), in order, and one row
-- per case with where it stands, kept in the same transaction as its events
-- so that reports read rows, not replays. Case numbers are the
-- department's own, as in `cases`.
CREATE TABLE case_events (
    department      TEXT NOT NULL REFERENCES departments(code),
    case_id         TEXT NOT NULL,
    seq             BIGINT NOT NULL,           -- 0, 1, … within the case
    at              BIGINT NOT NULL,           -- when it happened (unix seconds)
    event           TEXT NOT NULL,             -- the event as reported (JSON)
    recorded_at     BIGINT NOT NULL,
    recorded_by     TEXT NOT NULL,             -- the reporting department or operator
    PRIMARY KEY (department, case_id, seq)
);

CREATE TABLE supervised_cases (
    department      TEXT NOT NULL REFERENCES departments(code),
    case_id         TEXT NOT NULL,
    item            TEXT NOT NULL REFERENCES service_items(code),
    item_type       TEXT NOT NULL,             -- immediate | promised | joint | referred
    promised_days   BIGINT NOT NULL,           -- 承诺时限 when reported
    legal_days      BIGINT NOT NULL,           -- 法定时限 when reported
    channel         TEXT NOT NULL,             -- online | window | mail | other
    zero_visit      BIGINT NOT NULL,           -- 1: 零跑动
    phase           TEXT NOT NULL,             -- received | running | correcting | special | concluded | refused | withdrawn
    result          TEXT,                      -- approved | denied, once concluded
    opened_at       BIGINT NOT NULL,           -- the first event
    accepted_at     BIGINT,
    ended_at        BIGINT,
    elapsed_minutes BIGINT NOT NULL,           -- working time the clock ran, up to the last event
    standing        TEXT NOT NULL,             -- in-time | warned | overdue | over-legal, at the last event
    satisfied       BIGINT,                    -- 1 好评, 0 差评, NULL not evaluated
    events          BIGINT NOT NULL,
    PRIMARY KEY (department, case_id)
);
CREATE INDEX supervised_cases_opened ON supervised_cases(department, opened_at);
