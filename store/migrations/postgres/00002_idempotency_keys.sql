-- +goose Up
-- One row per Idempotency-Key of an environment: the request it was first used with
-- (method, path, fingerprint of the body), the reservation that owns it while the request
-- runs (owner, locked_until) and, once completed, its 2xx response.
CREATE TABLE idempotency_keys (
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key             text NOT NULL,
    owner           uuid NOT NULL,
    method          text NOT NULL,
    path            text NOT NULL,
    fingerprint     bytea NOT NULL,
    status          integer,
    response_header jsonb CHECK (response_header IS NULL OR jsonb_typeof(response_header) = 'object'),
    response_body   bytea,
    created_at      timestamptz NOT NULL,
    locked_until    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    PRIMARY KEY (environment_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
