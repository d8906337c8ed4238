-- +goose Up
-- One row per projection: the schema version and table generation its read
-- model is served from, and the last log sequence applied to it.
CREATE TABLE projection_state (
    name        TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    generation  INTEGER NOT NULL,
    checkpoint  BIGINT NOT NULL DEFAULT 0,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- A rebuild in progress: a new generation being filled from the log.
CREATE TABLE projection_rebuilds (
    name        TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    generation  INTEGER NOT NULL,
    checkpoint  BIGINT NOT NULL DEFAULT 0,
    started_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE projection_rebuilds;
DROP TABLE projection_state;
