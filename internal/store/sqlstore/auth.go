package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"chsgate/internal/store"
)

// CreateAuthTicket stores t, which must be unused. A zero CreatedAt is set to
// the current time, in t too.
func (s *Store) CreateAuthTicket(ctx context.Context, t *store.AuthTicket) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	if err := checkAuthTicket(t); err != nil {
		return err
	}

	if s.ticketPurge.due(t.CreatedAt, purgeInterval) {
		// A failed purge leaves old tickets for the next interval. Failing
		// the new ticket for it would reject a valid request.
		_, _ = s.PurgeAuthTickets(ctx, t.CreatedAt)
	}

	r := s.runner()
	res, err := r.exec(ctx, `INSERT INTO auth_tickets (hash, appid, org_code, request, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO NOTHING`,
		t.Hash, t.AppID, t.OrgCode, string(t.Request), r.time(t.CreatedAt), r.time(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert auth ticket of channel %q: %w", t.AppID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("auth ticket of channel %q: %w", t.AppID, store.ErrExists)
	}
	return nil
}

// authTicketRetention is how long a ticket is kept after it expires, so
// that an old link opened soon after shows that it expired rather than
// that it does not exist. A ticket holds the request's names and ID
// numbers, which are not kept longer than that.
const authTicketRetention = 24 * time.Hour

// PurgeAuthTickets deletes the tickets that expired authTicketRetention or
// more before now, used or not, and returns how many it deleted.
func (s *Store) PurgeAuthTickets(ctx context.Context, now time.Time) (int64, error) {
	r := s.runner()
	res, err := r.exec(ctx, `DELETE FROM auth_tickets WHERE expires_at <= ?`, r.time(now.Add(-authTicketRetention)))
	if err != nil {
		return 0, fmt.Errorf("delete old auth tickets: %w", err)
	}
	return rowsAffected(res)
}

// checkAuthTicket rejects a ticket that would break what readers of the
// table rely on.
func checkAuthTicket(t *store.AuthTicket) error {
	var problem string
	switch {
	case len(t.Hash) != sha256.Size:
		problem = fmt.Sprintf("the hash has %d bytes, expected the %d of a SHA-256", len(t.Hash), sha256.Size)
	case t.AppID == "" || t.OrgCode == "":
		problem = "the appid or the org code is empty"
	case !json.Valid(t.Request):
		problem = "the request is not valid JSON"
	case !t.ExpiresAt.After(t.CreatedAt):
		problem = fmt.Sprintf("ExpiresAt %s is not after CreatedAt %s", t.ExpiresAt.Format(time.RFC3339Nano), t.CreatedAt.Format(time.RFC3339Nano))
	case !t.UsedAt.IsZero():
		problem = "UsedAt is set, but a new ticket is unused"
	default:
		return nil
	}
	return fmt.Errorf("create auth ticket of channel %q: %s", t.AppID, problem)
}

func (s *Store) AuthTicket(ctx context.Context, hash []byte) (*store.AuthTicket, error) {
	var t store.AuthTicket
	var request string
	err := s.runner().queryRow(ctx, `SELECT hash, appid, org_code, request, created_at, expires_at, used_at
		FROM auth_tickets WHERE hash = ?`, hash).
		Scan(&t.Hash, &t.AppID, &t.OrgCode, &request,
			timeColumn{&t.CreatedAt}, timeColumn{&t.ExpiresAt}, nullTimeColumn{&t.UsedAt})
	if err != nil {
		return nil, notFound(err, "auth ticket")
	}
	t.Request = []byte(request)
	return &t, nil
}

// CompleteAuthorization uses the ticket up with a conditional UPDATE, which
// changes no row once the ticket is used. Of two calls racing on one ticket,
// the second finds it used: PostgreSQL's UPDATE waits for the first's row
// lock and then checks used_at again, and SQLite runs one write transaction
// at a time. It then locks the applicant and org code, so that completions
// for one applicant also run one at a time, and each supersedes the code of
// the one before. A zero a.CreatedAt is set to now, in a too.
//
// The ticket's ExpiresAt is not checked here: the caller checks it, as the
// AuthTicket documentation says.
func (s *Store) CompleteAuthorization(ctx context.Context, ticketHash []byte, a *store.Authorization, now time.Time) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	if err := checkAuthorization(a); err != nil {
		return err
	}

	return s.inTx(ctx, func(tx runner) error {
		if err := useAuthTicket(ctx, tx, ticketHash, a, now); err != nil {
			return err
		}

		// Every completion takes its ticket's row lock before the applicant
		// lock, and a second completion of one ticket stops at the row lock,
		// so completions cannot deadlock on these two locks.
		if err := s.dialect.lockKey(ctx, tx, applicantLockKey(a)); err != nil {
			return fmt.Errorf("complete authorization of channel %q: %w", a.AppID, err)
		}
		_, err := tx.exec(ctx, `UPDATE authorizations SET superseded_at = ?
			WHERE org_code = ? AND applicant_cert_type = ? AND applicant_idcard = ? AND superseded_at IS NULL`,
			tx.time(now), a.OrgCode, a.ApplicantCertType, a.ApplicantIDCard)
		if err != nil {
			return fmt.Errorf("supersede earlier authorizations of the applicant for org code %q: %w", a.OrgCode, err)
		}

		if err := insertAuthorization(ctx, tx, a); err != nil {
			return err
		}
		return insertAuthPersons(ctx, tx, a)
	})
}

// useAuthTicket sets the ticket's used_at to now. It returns ErrTicketUsed
// when the ticket was used already, ErrNotFound when there is none, and an
// error when the ticket was issued to another channel or org code than a.
func useAuthTicket(ctx context.Context, tx runner, hash []byte, a *store.Authorization, now time.Time) error {
	var appid, orgCode string
	err := tx.queryRow(ctx, `UPDATE auth_tickets SET used_at = ? WHERE hash = ? AND used_at IS NULL
		RETURNING appid, org_code`, tx.time(now), hash).Scan(&appid, &orgCode)
	if errors.Is(err, sql.ErrNoRows) {
		var tickets int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM auth_tickets WHERE hash = ?`, hash).Scan(&tickets); err != nil {
			return fmt.Errorf("read auth ticket: %w", err)
		}
		if tickets == 0 {
			return fmt.Errorf("complete authorization of channel %q: auth ticket: %w", a.AppID, store.ErrNotFound)
		}
		return fmt.Errorf("complete authorization of channel %q: %w", a.AppID, store.ErrTicketUsed)
	}
	if err != nil {
		return fmt.Errorf("use auth ticket of channel %q: %w", a.AppID, err)
	}

	if appid != a.AppID || orgCode != a.OrgCode {
		return fmt.Errorf("complete authorization: the ticket was issued to channel %q for org code %q, but the authorization is of channel %q for org code %q",
			appid, orgCode, a.AppID, a.OrgCode)
	}
	return nil
}

// applicantLockKey names the lock that serializes completions for the
// applicant and org code of a. Quoting keeps the parts apart, so that no two
// applicants share a key.
func applicantLockKey(a *store.Authorization) string {
	return fmt.Sprintf("authorization applicant %q %q %q", a.OrgCode, a.ApplicantCertType, a.ApplicantIDCard)
}

// checkAuthorization rejects an authorization that would break what readers
// of the tables rely on: a SHA-256 code hash, a new code that is neither
// superseded nor paid, and persons in the order of the userlist of
// CI00.01.00.02. Errors name persons by position and never by ID number,
// because errors end up in logs.
func checkAuthorization(a *store.Authorization) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("complete authorization of channel %q: %s", a.AppID, fmt.Sprintf(format, args...))
	}
	switch {
	case len(a.CodeHash) != sha256.Size:
		return fail("the code hash has %d bytes, expected the %d of a SHA-256", len(a.CodeHash), sha256.Size)
	case a.AppID == "" || a.OrgCode == "":
		return fail("the appid or the org code is empty")
	case a.ApplicantCertType == "" || a.ApplicantIDCard == "":
		return fail("the applicant's cert type or ID number is empty")
	case !a.ExpiresAt.After(a.CreatedAt):
		return fail("ExpiresAt %s is not after CreatedAt %s", a.ExpiresAt.Format(time.RFC3339Nano), a.CreatedAt.Format(time.RFC3339Nano))
	case !a.SupersededAt.IsZero() || !a.PaidAt.IsZero():
		return fail("SupersededAt or PaidAt is set, but a new authorization is neither superseded nor paid")
	case len(a.Persons) == 0:
		return fail("the authorization has no persons, expected the applicant first")
	}

	applicant := a.Persons[0]
	if applicant.CertType != a.ApplicantCertType || applicant.IDCard != a.ApplicantIDCard {
		return fail("person 0 has another cert type or ID number than the applicant, expected the applicant first")
	}
	type identity struct{ certType, idcard string }
	positions := make(map[identity]int, len(a.Persons))
	for i, p := range a.Persons {
		if p.Applicant != (i == 0) {
			return fail("person %d has Applicant %t, expected true for person 0 only", i, p.Applicant)
		}
		if p.Authorized != (p.FailCode == 0) {
			return fail("person %d has Authorized %t and FailCode %d, expected FailCode 0 exactly when authorized", i, p.Authorized, p.FailCode)
		}
		if p.PersonID < 0 {
			return fail("person %d has PersonID %d, expected 0 for an unknown person or a registry id", i, p.PersonID)
		}
		key := identity{p.CertType, p.IDCard}
		if first, ok := positions[key]; ok {
			return fail("person %d repeats person %d, expected each person once", i, first)
		}
		positions[key] = i
	}
	return nil
}

func insertAuthorization(ctx context.Context, tx runner, a *store.Authorization) error {
	res, err := tx.exec(ctx, `INSERT INTO authorizations (code_hash, appid, org_code, applicant_cert_type,
		applicant_idcard, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (code_hash) DO NOTHING`,
		a.CodeHash, a.AppID, a.OrgCode, a.ApplicantCertType, a.ApplicantIDCard,
		tx.time(a.CreatedAt), tx.time(a.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert authorization of channel %q: %w", a.AppID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("authorization of channel %q: code hash: %w", a.AppID, store.ErrExists)
	}
	return nil
}

// authPersonColumns is the count of columns insertAuthPersons binds per
// person, which sizes its statements under maxListArgs placeholders.
const authPersonColumns = 10

// insertAuthPersons stores the persons of a, each at its index as position.
func insertAuthPersons(ctx context.Context, tx runner, a *store.Authorization) error {
	perStatement := maxListArgs / authPersonColumns
	for start := 0; start < len(a.Persons); start += perStatement {
		end := min(start+perStatement, len(a.Persons))
		values := make([]string, 0, end-start)
		args := make([]any, 0, authPersonColumns*(end-start))
		for i := start; i < end; i++ {
			p := a.Persons[i]
			values = append(values, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, a.CodeHash, i, sql.NullInt64{Int64: p.PersonID, Valid: p.PersonID != 0},
				p.Name, p.IDCard, p.CertType, p.Applicant, p.Authorized, p.FailCode, p.FailMsg)
		}
		_, err := tx.exec(ctx, `INSERT INTO auth_persons (code_hash, position, person_id, name, idcard, cert_type,
			applicant, authorized, fail_code, fail_msg) VALUES `+strings.Join(values, ", "), args...)
		if err != nil {
			return fmt.Errorf("insert persons %d to %d of the authorization of channel %q: %w", start, end-1, a.AppID, err)
		}
	}
	return nil
}

const authorizationColumns = `code_hash, appid, org_code, applicant_cert_type, applicant_idcard,
	created_at, expires_at, superseded_at, paid_at`

// Authorization reads the authorization and then its persons, outside a
// transaction. That is consistent because the persons are inserted in the
// transaction that inserts the authorization and never change.
func (s *Store) Authorization(ctx context.Context, hash []byte) (*store.Authorization, error) {
	r := s.runner()
	var a store.Authorization
	err := r.queryRow(ctx, `SELECT `+authorizationColumns+` FROM authorizations WHERE code_hash = ?`, hash).
		Scan(&a.CodeHash, &a.AppID, &a.OrgCode, &a.ApplicantCertType, &a.ApplicantIDCard,
			timeColumn{&a.CreatedAt}, timeColumn{&a.ExpiresAt}, nullTimeColumn{&a.SupersededAt}, nullTimeColumn{&a.PaidAt})
	if err != nil {
		return nil, notFound(err, "authorization")
	}

	rows, err := r.query(ctx, `SELECT person_id, name, idcard, cert_type, applicant, authorized, fail_code, fail_msg
		FROM auth_persons WHERE code_hash = ? ORDER BY position`, hash)
	if err != nil {
		return nil, fmt.Errorf("read persons of the authorization of channel %q: %w", a.AppID, err)
	}
	err = eachRow(rows, func(rows *sql.Rows) error {
		var p store.AuthorizedPerson
		var personID sql.NullInt64
		if err := rows.Scan(&personID, &p.Name, &p.IDCard, &p.CertType, &p.Applicant, &p.Authorized, &p.FailCode, &p.FailMsg); err != nil {
			return err
		}
		p.PersonID = personID.Int64
		a.Persons = append(a.Persons, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read persons of the authorization of channel %q: %w", a.AppID, err)
	}
	return &a, nil
}

// MarkAuthorizationPaid keeps a stored paid_at with COALESCE, and counts the
// rows the UPDATE matched: both databases count a matched row even when its
// value stays the same, so 0 means no such authorization.
func (s *Store) MarkAuthorizationPaid(ctx context.Context, codeHash []byte, now time.Time) error {
	r := s.runner()
	res, err := r.exec(ctx, `UPDATE authorizations SET paid_at = COALESCE(paid_at, ?) WHERE code_hash = ?`,
		r.time(now), codeHash)
	if err != nil {
		return fmt.Errorf("mark authorization paid: %w", err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("mark authorization paid: %w", store.ErrNotFound)
	}
	return nil
}
