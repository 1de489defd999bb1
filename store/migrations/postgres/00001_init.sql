-- +goose Up
CREATE TABLE environments (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_tokens (
    id             uuid PRIMARY KEY,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL,
    token_hash     bytea NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX api_tokens_list_idx ON api_tokens (environment_id, created_at, id);

CREATE TABLE integrated_accounts (
    id             uuid PRIMARY KEY,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    integration    text NOT NULL,
    tenant_id      text,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- target of mcp_servers' foreign key: a server lives in its account's environment.
    UNIQUE (environment_id, id)
);
CREATE INDEX integrated_accounts_list_idx ON integrated_accounts (environment_id, created_at, id);

CREATE TABLE mcp_servers (
    id                    uuid PRIMARY KEY,
    environment_id        uuid NOT NULL,
    integrated_account_id uuid NOT NULL,
    name                  text NOT NULL,
    config                jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
    expires_at            timestamptz,
    created_by            uuid NOT NULL,
    token_hash            bytea NOT NULL UNIQUE,
    version               bigint NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    FOREIGN KEY (environment_id, integrated_account_id)
        REFERENCES integrated_accounts (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX mcp_servers_list_idx ON mcp_servers (environment_id, integrated_account_id, created_at, id);

-- +goose Down
DROP TABLE mcp_servers;
DROP TABLE integrated_accounts;
DROP TABLE api_tokens;
DROP TABLE environments;
