-- +goose Up
-- The event a projection cannot apply, while it cannot (0 when none), what
-- applying it failed with and since when: every instance reads it for
-- /readyz, and `inkwell projections status` shows it.
ALTER TABLE projection_state ADD COLUMN stuck_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projection_state ADD COLUMN stuck_error TEXT NOT NULL DEFAULT '';
ALTER TABLE projection_state ADD COLUMN stuck_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE projection_state DROP COLUMN stuck_at;
ALTER TABLE projection_state DROP COLUMN stuck_error;
ALTER TABLE projection_state DROP COLUMN stuck_seq;
