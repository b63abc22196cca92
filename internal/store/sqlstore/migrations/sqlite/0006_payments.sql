-- Payment orders, their settlement and refunds, and the outbox of messages
-- they cause. Amounts are fen. Settling an order debits the payers' personal
-- accounts into the system account settlement, one ledger movement per order
-- line, and a refund credits them back, one movement per refunded line, so
-- the settlement account's balance is what the platform holds for the
-- insurers: paid lines less refunds.

-- status moves from pending to paid or failed once, and never back.
-- notify_url is '' when the third party gave none. fail_code and fail_msg
-- are the business code and message of a failed order, 0 and '' otherwise.
CREATE TABLE orders (
    id               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    appid            TEXT    NOT NULL,
    org_code         TEXT    NOT NULL,
    hi_pay_no        TEXT    NOT NULL,
    pay_no           TEXT    NOT NULL UNIQUE,
    settle_code      TEXT    NOT NULL UNIQUE,
    request_hash     BLOB    NOT NULL,
    request          TEXT    NOT NULL, -- the validated request as JSON
    auth_code_hash   BLOB    NOT NULL REFERENCES authorizations (code_hash),
    auth_code_sealed BLOB    NOT NULL,
    pay_kind         TEXT    NOT NULL CHECK (pay_kind IN ('1', '2')),
    total            INTEGER NOT NULL CHECK (total > 0),
    notify_url       TEXT    NOT NULL,
    redirect_url     TEXT    NOT NULL,
    fail_url         TEXT    NOT NULL,
    ticket_hash      BLOB    NOT NULL UNIQUE,
    ticket_expiry    TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'failed')),
    fail_code        INTEGER NOT NULL DEFAULT 0,
    fail_msg         TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL,
    paid_at          TEXT,
    UNIQUE (org_code, hi_pay_no),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    CHECK ((status = 'failed') = (fail_code <> 0))
) STRICT;

-- The lines of an order in the order of the request's paylist. payer_person_id
-- is the person whose personal account pays the line: the person for pay
-- kind 1, the household head for pay kind 2. set_id and movement_id are set
-- together when the order is settled, and movement_id is the line's payment
-- movement. refunded is the fen refunded so far.
CREATE TABLE order_persons (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    position        INTEGER NOT NULL CHECK (position >= 0),
    person_id       INTEGER NOT NULL REFERENCES persons (id),
    name            TEXT    NOT NULL,
    idcard          TEXT    NOT NULL,
    cert_type       TEXT    NOT NULL,
    region          TEXT    NOT NULL,
    sub_his_pay_no  TEXT    NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    payer_person_id INTEGER NOT NULL REFERENCES persons (id),
    set_id          TEXT    UNIQUE,
    movement_id     INTEGER UNIQUE REFERENCES movements (id),
    refunded        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (order_id, position),
    UNIQUE (order_id, person_id),
    CHECK ((set_id IS NULL) = (movement_id IS NULL)),
    CHECK (refunded >= 0 AND refunded <= amount),
    CHECK (refunded = 0 OR set_id IS NOT NULL)
) STRICT;

CREATE TABLE refunds (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    appid        TEXT    NOT NULL,
    org_code     TEXT    NOT NULL,
    hi_refund_no TEXT    NOT NULL,
    refund_no    TEXT    NOT NULL UNIQUE,
    request_hash BLOB    NOT NULL,
    total        INTEGER NOT NULL CHECK (total > 0),
    created_at   TEXT    NOT NULL,
    UNIQUE (org_code, hi_refund_no)
) STRICT;

CREATE INDEX refunds_order_id ON refunds (order_id);

-- One row per refunded order line. The unique order_person_id makes a second
-- refund of a line impossible, whatever races the code above it loses.
CREATE TABLE refund_persons (
    refund_id       INTEGER NOT NULL REFERENCES refunds (id),
    position        INTEGER NOT NULL CHECK (position >= 0),
    order_person_id INTEGER NOT NULL UNIQUE REFERENCES order_persons (id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    set_id          TEXT    NOT NULL UNIQUE,
    movement_id     INTEGER NOT NULL UNIQUE REFERENCES movements (id),
    PRIMARY KEY (refund_id, position)
) STRICT, WITHOUT ROWID;

-- Messages to deliver after a payment or refund commits, written in the same
-- transaction. A row is open while done_at is NULL and given_up is false.
-- A worker leases a due row until leased_until, and each lease counts as an
-- attempt. done_at is the time of delivery. given_up marks a row whose
-- retries ran out; its last_error says why, and done_at stays NULL.
--
-- person_id has no foreign key on purpose. Checking one would lock the
-- person's row after the settlement has locked the account, while an import
-- locks the person before the account, and on PostgreSQL the two deadlock.
CREATE TABLE outbox (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL CHECK (kind IN ('payment_callback', 'account_message')),
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    refund_id    INTEGER REFERENCES refunds (id),
    person_id    INTEGER,                 -- whose account moved, for account messages
    amount       INTEGER NOT NULL DEFAULT 0,      -- fen, negative for a debit
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at      TEXT    NOT NULL,
    leased_until TEXT,
    done_at      TEXT,
    given_up     INTEGER NOT NULL DEFAULT FALSE CHECK (given_up IN (FALSE, TRUE)),
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,
    CHECK ((kind = 'payment_callback' AND refund_id IS NULL AND person_id IS NULL AND amount = 0)
        OR (kind = 'account_message' AND person_id IS NOT NULL AND amount <> 0))
) STRICT;

CREATE INDEX outbox_due ON outbox (next_at, id) WHERE done_at IS NULL AND NOT given_up;

INSERT INTO accounts (kind, code, balance, created_at)
VALUES ('system', 'settlement', 0, strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now'));
