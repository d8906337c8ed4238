-- The users read model: one row per account, behind "me" and the admin user
-- list. Password hashes are never projected.
CREATE TABLE {{t "users"}} (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    email         TEXT NOT NULL,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    bio           TEXT NOT NULL DEFAULT '',
    avatar        TEXT NOT NULL DEFAULT '',
    is_active     {{bool}} NOT NULL,
    is_staff      {{bool}} NOT NULL,
    is_superuser  {{bool}} NOT NULL,
    date_joined   {{timestamp}} NOT NULL,
    updated_at    {{timestamp}} NOT NULL,
    version       {{bigint}} NOT NULL
);
CREATE UNIQUE INDEX {{t "users"}}_username_idx ON {{t "users"}} (username);
CREATE INDEX {{t "users"}}_date_joined_idx ON {{t "users"}} (date_joined, id);
CREATE INDEX {{t "users"}}_email_idx ON {{t "users"}} (email);
