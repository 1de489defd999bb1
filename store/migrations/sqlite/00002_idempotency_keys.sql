-- +goose Up
-- One row per Idempotency-Key of an environment: the request it was first used with
-- (method, path, fingerprint of the body), the reservation that owns it while the request
-- runs (owner, locked_until) and, once completed, its 2xx response. Types as in 00001:
-- uuids as text, times as fixed-width UTC text, the header a JSON object as text.
CREATE TABLE idempotency_keys (
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    owner           TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    fingerprint     BLOB NOT NULL,
    status          INTEGER,
    response_header TEXT CHECK (response_header IS NULL OR (json_valid(response_header) AND json_type(response_header) = 'object')),
    response_body   BLOB,
    created_at      TEXT NOT NULL,
    locked_until    TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    completed_at    TEXT,
    PRIMARY KEY (environment_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
