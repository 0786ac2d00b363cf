-- 12345 work orders (工单): one row per order with where it stands (kept in
-- the same transaction as its steps, so that reports read rows), and its
-- steps in order. The citizen's contact is personal data: it is never in a
-- list, a log or the audit log; reading it is recorded.
CREATE TABLE work_orders (
    id              TEXT PRIMARY KEY,          -- 工单编号
    office          TEXT NOT NULL REFERENCES departments(code),
    category        TEXT NOT NULL,             -- consultation | suggestion | appeal | consumer-complaint | economic-report | administrative-complaint
    content         TEXT NOT NULL,             -- what the citizen said
    area            TEXT,                      -- where (region code or place)
    contact         TEXT NOT NULL,             -- the citizen's contact: personal data
    unit            TEXT,                      -- the member unit dispatched to, if any
    phase           TEXT NOT NULL,             -- new | dispatched | handling | replied | visited | closed
    sign_days       BIGINT NOT NULL,
    reply_days      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    closed_at       BIGINT,
    satisfied       BIGINT,                    -- the last call back: 1 satisfied, 0 not
    signed_on_time  BIGINT,                    -- once signed for: 1 within its deadline, 0 late
    replied_on_time BIGINT,                    -- once replied: 1 within its deadline, 0 late
    yellow_cards    BIGINT NOT NULL,           -- as of the last step
    red_cards       BIGINT NOT NULL,
    steps           BIGINT NOT NULL
);
CREATE INDEX work_orders_created ON work_orders(created_at);

CREATE TABLE work_order_steps (
    order_id        TEXT NOT NULL REFERENCES work_orders(id),
    seq             BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,             -- office | the unit's code
    step            TEXT NOT NULL,             -- the step as taken (JSON)
    PRIMARY KEY (order_id, seq)
);
