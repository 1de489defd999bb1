-- +goose Up
-- The sweeper deletes expired MCP servers oldest expiry first, in batches.
CREATE INDEX mcp_servers_expires_idx ON mcp_servers (expires_at) WHERE expires_at IS NOT NULL;

-- One row per MCP request that reached an MCP server: identities, outcome, status codes and
-- durations only (never arguments, results or credentials). No foreign keys: a record outlives
-- its server and account until the retention sweep, and an environment's key check would cost
-- PostgreSQL about a third of each insert (a row lock on the environment per logged call, on
-- the tool-call path's busiest table); environments are never deleted, and every read is
-- scoped by environment_id anyway. Types as in 00001: uuids and
-- times as text.
CREATE TABLE mcp_call_logs (
    id                    TEXT PRIMARY KEY,
    environment_id        TEXT NOT NULL,
    integrated_account_id TEXT NOT NULL,
    mcp_server_id         TEXT NOT NULL,
    integration           TEXT NOT NULL,
    mcp_method            TEXT NOT NULL,
    tool_name             TEXT,
    outcome               TEXT NOT NULL CHECK (outcome IN ('ok', 'tool_error', 'upstream_error', 'timeout', 'refused')),
    http_status           INTEGER NOT NULL,
    upstream_status       INTEGER,
    duration_ms           INTEGER NOT NULL,
    upstream_duration_ms  INTEGER,
    client_name           TEXT,
    client_version        TEXT,
    request_id            TEXT NOT NULL,
    created_at            TEXT NOT NULL
);
-- The reads: an environment's records newest first, optionally of one server or one account;
-- the other filters (tool, method, outcome, window) narrow these ranges.
CREATE INDEX mcp_call_logs_env_idx ON mcp_call_logs (environment_id, created_at, id);
CREATE INDEX mcp_call_logs_server_idx ON mcp_call_logs (environment_id, mcp_server_id, created_at, id);
CREATE INDEX mcp_call_logs_account_idx ON mcp_call_logs (environment_id, integrated_account_id, created_at, id);
-- The retention sweep.
CREATE INDEX mcp_call_logs_created_idx ON mcp_call_logs (created_at);

-- +goose Down
DROP TABLE mcp_call_logs;
DROP INDEX mcp_servers_expires_idx;
