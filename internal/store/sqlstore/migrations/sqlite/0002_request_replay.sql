-- Sign string digests of recent requests per channel, so that a request
-- sent twice within the timestamp window is rejected. Rows past expires_at
-- mean nothing and are deleted from time to time.

CREATE TABLE request_replay (
    appid      TEXT NOT NULL,
    digest     BLOB NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (appid, digest)
) STRICT, WITHOUT ROWID;

CREATE INDEX request_replay_expires_at ON request_replay (expires_at);
