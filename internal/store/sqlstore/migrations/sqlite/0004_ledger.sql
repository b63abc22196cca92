-- Double-entry ledger in fen. Every movement's entries sum to zero, and every
-- account's balance equals the sum of its entries. A positive amount adds to
-- the account's balance. Money that enters from outside the platform, such as
-- imported balances, comes from the system account external_funding, whose
-- balance is the negative of all money brought in.

CREATE TABLE accounts (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('personal', 'system')),
    person_id  INTEGER UNIQUE REFERENCES persons (id),
    code       TEXT    UNIQUE, -- name of a system account
    balance    INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    CHECK ((kind = 'personal' AND person_id IS NOT NULL AND code IS NULL)
        OR (kind = 'system' AND person_id IS NULL AND code IS NOT NULL)),
    CHECK (kind <> 'personal' OR balance >= 0)
) STRICT;

-- kind is opening or adjustment for imports, and reference ties the movement to
-- what caused it.
CREATE TABLE movements (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    reference  TEXT    NOT NULL,
    created_at TEXT    NOT NULL
) STRICT;

CREATE TABLE entries (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    movement_id INTEGER NOT NULL REFERENCES movements (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    amount      INTEGER NOT NULL CHECK (amount <> 0)
) STRICT;

CREATE INDEX entries_movement_id ON entries (movement_id);
CREATE INDEX entries_account_id ON entries (account_id);

INSERT INTO accounts (kind, code, balance, created_at)
VALUES ('system', 'external_funding', 0, strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now'));
