-- One key, one purpose: a department's issuing key signs licences and
-- status lists (the hub keeps it), its exchange key signs envelopes (its
-- own system may hold it alone, the hub only its public half). Keys made
-- before this migration signed both and stay `both` until rotated or
-- replaced; the hub's own keys are `both` (its anchor signs trust lists and
-- its answers).
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'both'
    CHECK (purpose IN ('issue', 'exchange', 'both'));
