-- What the hub pushes to departments over the exchange (a transactional
-- outbox): rows written in the same transaction as what they tell, drained
-- by the hub into messages it signs on a hub topic (`hub.supervision`,
-- `hub.hotline`), delivered to the topic's subscribers among `audience`.
-- `id` is the message's id and is derived from what the row tells (a
-- case's threshold, an order's card, a notice), so a fact is pushed at most
-- once whoever writes it and however often; a row stays after it is sent:
-- it is the record of what was pushed.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,          -- the message id (32 hex)
    topic           TEXT NOT NULL,             -- hub.supervision | hub.hotline
    audience        TEXT NOT NULL,             -- JSON array of department codes
    schema          TEXT NOT NULL,             -- id@version of the payload
    payload         TEXT NOT NULL,             -- JSON
    created_at      BIGINT NOT NULL,
    sent_seq        BIGINT                     -- the message's seq once sent
);
CREATE INDEX outbox_unsent ON outbox(created_at) WHERE sent_seq IS NULL;
CREATE INDEX outbox_topic ON outbox(topic, created_at);

-- A running clock's start, so that a case's time now is its time at its
-- last event plus the working time since; and the highest threshold a
-- warning was pushed for (0 none, 1 warned, 2 overdue, 3 over-legal).
ALTER TABLE supervised_cases ADD COLUMN clock_from BIGINT;
ALTER TABLE supervised_cases ADD COLUMN alerted BIGINT NOT NULL DEFAULT 0;
CREATE INDEX supervised_cases_open ON supervised_cases(ended_at, alerted) WHERE ended_at IS NULL;

-- Supervision notices (督办): the supervising office asks a unit about a
-- case or a work order; the unit answers by a deadline.
CREATE TABLE supervision_notices (
    id              TEXT PRIMARY KEY,
    unit            TEXT NOT NULL REFERENCES departments(code),
    subject_kind    TEXT NOT NULL,             -- case | order
    subject         TEXT NOT NULL,             -- the case id (the unit's) or the order id
    text            TEXT NOT NULL,
    issued_by       TEXT NOT NULL,
    issued_at       BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    answer          TEXT,
    answered_at     BIGINT,
    answered_by     TEXT
);
CREATE INDEX supervision_notices_unit ON supervision_notices(unit, issued_at);
