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
CREATE INDEX {{t "users"}}_lower_username_idx ON {{t "users"}} (LOWER(username));
CREATE INDEX {{t "users"}}_email_idx ON {{t "users"}} (email);
-- The admin list reads a page in index order: one index per ordering.
CREATE INDEX {{t "users"}}_date_joined_idx ON {{t "users"}} (date_joined, id);
CREATE INDEX {{t "users"}}_sort_username_idx ON {{t "users"}} ({{sorttext "username"}}, id);
CREATE INDEX {{t "users"}}_sort_email_idx ON {{t "users"}} ({{sorttext "email"}}, id);
CREATE INDEX {{t "users"}}_sort_first_name_idx ON {{t "users"}} ({{sorttext "first_name"}}, id);
CREATE INDEX {{t "users"}}_sort_last_name_idx ON {{t "users"}} ({{sorttext "last_name"}}, id);

-- How many accounts there are, by is_active and is_staff ("active:true,staff:false"),
-- kept as events are applied so that the list's count reads four rows.
CREATE TABLE {{t "user_counts"}} (
    scope  TEXT PRIMARY KEY,
    n      {{bigint}} NOT NULL
);
