-- +goose Up
-- How many events of the log the process applying a projection has yet to
-- apply, as it last saw it, and when: every instance reads it for /readyz
-- and /metrics.
ALTER TABLE projection_state ADD COLUMN lag BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projection_state ADD COLUMN lag_at TIMESTAMP;

-- +goose Down
ALTER TABLE projection_state DROP COLUMN lag_at;
ALTER TABLE projection_state DROP COLUMN lag;
