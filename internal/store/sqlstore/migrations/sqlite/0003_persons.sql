-- The insured-person registry, copied from the core insurance system by
-- imports. Codes follow the Fujian platform interface: insu_type is 310
-- (employee) or 390 (resident), insu_status 1 (normal), 2 (suspended) or 4
-- (terminated), and relation is hser_rlts, with '0' for the household head.

CREATE TABLE persons (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    idcard       TEXT    NOT NULL UNIQUE,
    cert_type    TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    phone        TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    insu_type    TEXT    NOT NULL,
    insu_status  TEXT    NOT NULL,
    company_name TEXT    NOT NULL,
    family_id    TEXT,             -- NULL when in no family network
    relation     TEXT    NOT NULL, -- '' when in no family network
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    CHECK (family_id IS NULL OR family_id <> ''),
    CHECK (family_id IS NOT NULL OR relation = '')
) STRICT;

CREATE INDEX persons_family_id ON persons (family_id);

-- At most one head per family network. Imports also check that a network
-- they change has at least one.
CREATE UNIQUE INDEX persons_family_head ON persons (family_id) WHERE relation = '0';
