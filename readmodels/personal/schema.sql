-- The personal-data read model: what the export of an account
-- (GET /api/auth/me/export/) reads beside the log. Every row of a user goes
-- when the account is deleted or erased.

-- One row per session (login): when it started and was last refreshed,
-- when and why it ended.
CREATE TABLE {{t "user_sessions"}} (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    client        TEXT NOT NULL DEFAULT '',
    started_at    {{timestamp}} NOT NULL,
    last_used_at  {{timestamp}} NOT NULL,
    ended_at      {{timestamp}},
    end_reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX {{t "user_sessions"}}_user_idx ON {{t "user_sessions"}} (user_id, started_at);

-- The log sequence of every event a user caused (its actor): the export
-- reads the events themselves from the log.
CREATE TABLE {{t "user_events"}} (
    user_id  TEXT NOT NULL,
    seq      {{bigint}} NOT NULL,
    PRIMARY KEY (user_id, seq)
) {{withoutrowid}};
