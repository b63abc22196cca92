-- Third-party platforms allowed to call the gateway, and the access tokens
-- issued to them in token mode. Keys use the C collation so that text orders
-- and compares bytewise, as it does in SQLite.

CREATE TABLE channels (
    appid          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_code       TEXT        NOT NULL,
    service_id     TEXT        NOT NULL,
    profile        TEXT        NOT NULL,
    sign_type      TEXT        NOT NULL,
    enc_type       TEXT        NOT NULL,
    key_derivation TEXT        NOT NULL,
    security_mode  TEXT        NOT NULL,
    sm2_public_key TEXT        NOT NULL,
    allowed_hosts  TEXT        NOT NULL, -- JSON array of host or host:port
    functions      TEXT        NOT NULL, -- JSON array of function ids, all when empty
    disabled       BOOLEAN     NOT NULL,
    secrets        BYTEA       NOT NULL, -- sealed under the master key
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Only the SHA-256 of a token is stored, so a copy of the database holds no
-- live token.
CREATE TABLE tokens (
    hash       BYTEA       NOT NULL PRIMARY KEY,
    appid      TEXT COLLATE "C" NOT NULL REFERENCES channels (appid) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX tokens_appid ON tokens (appid);
