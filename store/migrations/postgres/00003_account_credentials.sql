-- +goose Up
-- An integrated account's upstream credential, sealed (AES-256-GCM) by the server; NULL: none.
ALTER TABLE integrated_accounts ADD COLUMN credentials bytea;

-- +goose Down
ALTER TABLE integrated_accounts DROP COLUMN credentials;
