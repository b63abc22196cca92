-- Third-party platforms allowed to call the gateway, and the access tokens
-- issued to them in token mode. Times are UTC text of fixed width
-- (2006-01-02T15:04:05.000000Z), so comparing the text compares the times.

CREATE TABLE channels (
    appid          TEXT    NOT NULL PRIMARY KEY,
    org_code       TEXT    NOT NULL,
    service_id     TEXT    NOT NULL,
    profile        TEXT    NOT NULL,
    sign_type      TEXT    NOT NULL,
    enc_type       TEXT    NOT NULL,
    key_derivation TEXT    NOT NULL,
    security_mode  TEXT    NOT NULL,
    sm2_public_key TEXT    NOT NULL,
    allowed_hosts  TEXT    NOT NULL, -- JSON array of host or host:port
    functions      TEXT    NOT NULL, -- JSON array of function ids, all when empty
    disabled       INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    secrets        BLOB    NOT NULL, -- sealed under the master key
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
) STRICT;

-- Only the SHA-256 of a token is stored, so a copy of the database holds no
-- live token.
CREATE TABLE tokens (
    hash       BLOB NOT NULL PRIMARY KEY,
    appid      TEXT NOT NULL REFERENCES channels (appid) ON DELETE CASCADE,
    expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX tokens_appid ON tokens (appid);
