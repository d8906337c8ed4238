-- +goose Up
-- The ledger of erasures: every user whose erasure a log this database's
-- read models were built from recorded (user.erased), added by the users
-- read model as it applies the event (live, and in every rebuild) and by
-- inkwell restore. It is none of a read model's generations: no rebuild or
-- swap drops it, so it is the union of every log it has seen. A restore of
-- a backup taken before an erasure, and every start of Inkwell, erase again
-- whom it names (their data key destroyed, their erasure recorded again if
-- the log lacks it). It holds user ids, never personal data.
CREATE TABLE erasure_ledger (
    user_id     TEXT PRIMARY KEY,
    log_seq     BIGINT NOT NULL,
    erased_at   TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE erasure_ledger;
