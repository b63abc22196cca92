-- Authorization pages and the auth codes they issue. Only the SHA-256 of a
-- page ticket or an auth code is stored, so a copy of the database holds no
-- live one. Authorizations are kept after they expire or are superseded,
-- because a code stays good for refunds of its own orders.
--
-- CreateAuthTicket deletes tickets a day after they expire.

CREATE TABLE auth_tickets (
    hash       BLOB NOT NULL PRIMARY KEY,
    appid      TEXT NOT NULL,
    org_code   TEXT NOT NULL,
    request    TEXT NOT NULL, -- the validated request as JSON
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT           -- NULL until the page is completed
) STRICT;

-- superseded_at is set when the same applicant (cert type and ID number)
-- completes a newer authorization for the same org_code, and paid_at when a
-- payment is confirmed with the code.
CREATE TABLE authorizations (
    code_hash           BLOB NOT NULL PRIMARY KEY,
    appid               TEXT NOT NULL,
    org_code            TEXT NOT NULL,
    applicant_cert_type TEXT NOT NULL,
    applicant_idcard    TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    superseded_at       TEXT,
    paid_at             TEXT
) STRICT;

CREATE INDEX authorizations_applicant
    ON authorizations (org_code, applicant_cert_type, applicant_idcard);

-- At most one current code per applicant and org_code. CompleteAuthorization
-- serializes completions of one applicant, so this index only catches a bug.
CREATE UNIQUE INDEX authorizations_current
    ON authorizations (org_code, applicant_cert_type, applicant_idcard)
    WHERE superseded_at IS NULL;

-- The persons of an authorization in the order of CI00.01.00.02's userlist:
-- the applicant at position 0, then each other person of the request once.
CREATE TABLE auth_persons (
    code_hash  BLOB    NOT NULL REFERENCES authorizations (code_hash),
    position   INTEGER NOT NULL CHECK (position >= 0),
    person_id  INTEGER REFERENCES persons (id), -- NULL when the registry does not know the person
    name       TEXT    NOT NULL,
    idcard     TEXT    NOT NULL,
    cert_type  TEXT    NOT NULL,
    applicant  INTEGER NOT NULL CHECK (applicant IN (0, 1)),
    authorized INTEGER NOT NULL CHECK (authorized IN (0, 1)),
    fail_code  INTEGER NOT NULL, -- 0 when authorized
    fail_msg   TEXT    NOT NULL,
    PRIMARY KEY (code_hash, position),
    CHECK ((authorized = 1) = (fail_code = 0))
) STRICT, WITHOUT ROWID;
