-- Sign string digests of recent requests per channel, so that a request
-- sent twice within the timestamp window is rejected. Rows past expires_at
-- mean nothing and are deleted from time to time.

CREATE TABLE request_replay (
    appid      TEXT COLLATE "C" NOT NULL,
    digest     BYTEA       NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (appid, digest)
);

CREATE INDEX request_replay_expires_at ON request_replay (expires_at);
