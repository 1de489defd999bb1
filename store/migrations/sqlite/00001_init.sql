-- +goose Up
-- uuids are canonical lowercase text; times are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff+00:00'
-- (fixed width, so text order is time order); config is a JSON object as text.
CREATE TABLE environments (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL,
    token_hash     BLOB NOT NULL UNIQUE,
    created_at     TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX api_tokens_list_idx ON api_tokens (environment_id, created_at, id);

CREATE TABLE integrated_accounts (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    integration    TEXT NOT NULL,
    tenant_id      TEXT,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    -- target of mcp_servers' foreign key: a server lives in its account's environment.
    UNIQUE (environment_id, id)
);
CREATE INDEX integrated_accounts_list_idx ON integrated_accounts (environment_id, created_at, id);

CREATE TABLE mcp_servers (
    id                    TEXT PRIMARY KEY,
    environment_id        TEXT NOT NULL,
    integrated_account_id TEXT NOT NULL,
    name                  TEXT NOT NULL,
    config                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config) AND json_type(config) = 'object'),
    expires_at            TEXT,
    created_by            TEXT NOT NULL,
    token_hash            BLOB NOT NULL UNIQUE,
    version               INTEGER NOT NULL DEFAULT 1,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    FOREIGN KEY (environment_id, integrated_account_id)
        REFERENCES integrated_accounts (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX mcp_servers_list_idx ON mcp_servers (environment_id, integrated_account_id, created_at, id);

-- +goose Down
DROP TABLE mcp_servers;
DROP TABLE integrated_accounts;
DROP TABLE api_tokens;
DROP TABLE environments;
