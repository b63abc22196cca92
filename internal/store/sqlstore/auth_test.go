package sqlstore_test

import (
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

const (
	authOrg      = "HMB001"
	authOtherOrg = "HMB002"
	// certType is the cert type of the import fixtures, and otherCertType
	// any other, for telling applicants apart by cert type.
	certType      = "01"
	otherCertType = "02"
	codeValidity  = 90 * 24 * time.Hour
)

// hashOf returns the SHA-256 of s, as the gateway stores tickets and codes.
func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func sampleTicket(name, orgCode string) *store.AuthTicket {
	return &store.AuthTicket{
		Hash:      hashOf("ticket " + name),
		AppID:     "ldxt",
		OrgCode:   orgCode,
		Request:   []byte(`{"org_code":"` + orgCode + `","paylist":[{"name":"Test Person 02","hser_rlts":"1"}]}`),
		CreatedAt: t0,
		ExpiresAt: t0.Add(30 * time.Minute),
	}
}

// sampleAuthorization returns an authorization of the applicant alone, with
// a zero CreatedAt that CompleteAuthorization sets.
func sampleAuthorization(code, orgCode, applicantCertType, idcard string) *store.Authorization {
	return &store.Authorization{
		CodeHash:          hashOf("code " + code),
		AppID:             "ldxt",
		OrgCode:           orgCode,
		ApplicantCertType: applicantCertType,
		ApplicantIDCard:   idcard,
		Persons: []store.AuthorizedPerson{
			{Name: "Applicant", IDCard: idcard, CertType: applicantCertType, Applicant: true, Authorized: true},
		},
		ExpiresAt: t0.Add(codeValidity),
	}
}

func mustCreateTicket(t *testing.T, s store.Store, ticket *store.AuthTicket) {
	t.Helper()
	if err := s.CreateAuthTicket(t.Context(), ticket); err != nil {
		t.Fatalf("CreateAuthTicket: %v", err)
	}
}

func mustTicket(t *testing.T, s store.Store, hash []byte) *store.AuthTicket {
	t.Helper()
	ticket, err := s.AuthTicket(t.Context(), hash)
	if err != nil {
		t.Fatalf("AuthTicket: %v", err)
	}
	return ticket
}

// mustComplete completes a with a new ticket named after its code, issued
// for a's org code.
func mustComplete(t *testing.T, s store.Store, code string, a *store.Authorization, now time.Time) {
	t.Helper()
	ticket := sampleTicket(code, a.OrgCode)
	mustCreateTicket(t, s, ticket)
	if err := s.CompleteAuthorization(t.Context(), ticket.Hash, a, now); err != nil {
		t.Fatalf("CompleteAuthorization %s: %v", code, err)
	}
}

func mustAuthorization(t *testing.T, s store.Store, codeHash []byte) *store.Authorization {
	t.Helper()
	a, err := s.Authorization(t.Context(), codeHash)
	if err != nil {
		t.Fatalf("Authorization: %v", err)
	}
	return a
}

func countRows(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAuthTicketRoundTrip(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		want := sampleTicket("page", authOrg)
		mustCreateTicket(t, s, want)
		got := mustTicket(t, s, want.Hash)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("AuthTicket returned\n%+v\nwant\n%+v", got, want)
		}
	})
}

func TestAuthTicketCreateStampsZeroCreatedAt(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		ticket := sampleTicket("page", authOrg)
		ticket.CreatedAt = time.Time{}
		ticket.ExpiresAt = time.Now().Add(time.Hour)
		before := time.Now().Add(-time.Second)
		mustCreateTicket(t, s, ticket)
		got := mustTicket(t, s, ticket.Hash)
		if got.CreatedAt.Before(before) {
			t.Errorf("CreatedAt = %v, want the current time", got.CreatedAt)
		}
	})
}

func TestAuthTicketDuplicate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustCreateTicket(t, s, sampleTicket("page", authOrg))
		err := s.CreateAuthTicket(t.Context(), sampleTicket("page", authOtherOrg))
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("second CreateAuthTicket with the same hash: %v, want ErrExists", err)
		}
		if got := mustTicket(t, s, hashOf("ticket page")); got.OrgCode != authOrg {
			t.Errorf("OrgCode = %q after the rejected duplicate, want %q", got.OrgCode, authOrg)
		}
	})
}

// TestAuthTicketsDeletedADayAfterExpiry checks that creating a ticket
// deletes the tickets, used or not, that expired a day or more before, and
// keeps younger ones.
func TestAuthTicketsDeletedADayAfterExpiry(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		ticketAt := func(name string, created time.Time) *store.AuthTicket {
			ticket := sampleTicket(name, authOrg)
			ticket.CreatedAt, ticket.ExpiresAt = created, created.Add(30*time.Minute)
			return ticket
		}
		old := ticketAt("old", t0.Add(-26*time.Hour))
		recent := ticketAt("recent", t0.Add(-2*time.Hour))
		mustCreateTicket(t, s, old)
		mustCreateTicket(t, s, recent)
		if _, err := s.AuthTicket(t.Context(), old.Hash); err != nil {
			t.Fatalf("old ticket before it is a day past expiry: %v, want it kept", err)
		}

		mustCreateTicket(t, s, ticketAt("new", t0))
		if _, err := s.AuthTicket(t.Context(), old.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ticket expired over a day ago: %v, want ErrNotFound", err)
		}
		for _, ticket := range []*store.AuthTicket{recent, ticketAt("new", t0)} {
			if _, err := s.AuthTicket(t.Context(), ticket.Hash); err != nil {
				t.Errorf("ticket created %v: %v, want it kept", ticket.CreatedAt, err)
			}
		}
	})
}

func TestAuthTicketNotFound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		_, err := s.AuthTicket(t.Context(), hashOf("ticket missing"))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("AuthTicket of an unknown hash: %v, want ErrNotFound", err)
		}
	})
}

func TestAuthTicketRejectsInvalid(t *testing.T) {
	cases := map[string]func(*store.AuthTicket){
		"raw ticket as hash":  func(tk *store.AuthTicket) { tk.Hash = []byte("ticket in clear") },
		"empty appid":         func(tk *store.AuthTicket) { tk.AppID = "" },
		"empty org code":      func(tk *store.AuthTicket) { tk.OrgCode = "" },
		"request not JSON":    func(tk *store.AuthTicket) { tk.Request = []byte("org_code=HMB001") },
		"empty request":       func(tk *store.AuthTicket) { tk.Request = nil },
		"zero ExpiresAt":      func(tk *store.AuthTicket) { tk.ExpiresAt = time.Time{} },
		"expires at creation": func(tk *store.AuthTicket) { tk.ExpiresAt = tk.CreatedAt },
		"already used":        func(tk *store.AuthTicket) { tk.UsedAt = t0 },
	}
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		for name, breakTicket := range cases {
			ticket := sampleTicket(name, authOrg)
			breakTicket(ticket)
			if err := s.CreateAuthTicket(t.Context(), ticket); err == nil || errors.Is(err, store.ErrExists) {
				t.Errorf("%s: CreateAuthTicket: %v, want a validation error", name, err)
			}
			if _, err := s.AuthTicket(t.Context(), ticket.Hash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: AuthTicket after the rejected create: %v, want ErrNotFound", name, err)
			}
		}
	})
}

func TestCompleteAuthorization(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		ticket := sampleTicket("page", authOrg)
		mustCreateTicket(t, s, ticket)
		now := t0.Add(time.Minute)
		a := sampleAuthorization("first", authOrg, certType, idHead)
		if err := s.CompleteAuthorization(t.Context(), ticket.Hash, a, now); err != nil {
			t.Fatalf("CompleteAuthorization: %v", err)
		}
		if !a.CreatedAt.Equal(now) {
			t.Errorf("CreatedAt set in the argument = %v, want now %v", a.CreatedAt, now)
		}

		if got := mustTicket(t, s, ticket.Hash); !got.UsedAt.Equal(now) {
			t.Errorf("ticket UsedAt = %v, want %v", got.UsedAt, now)
		}
		got := mustAuthorization(t, s, a.CodeHash)
		if !reflect.DeepEqual(got, a) {
			t.Errorf("Authorization returned\n%+v\nwant\n%+v", got, a)
		}
	})
}

func TestAuthorizationNotFound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		_, err := s.Authorization(t.Context(), hashOf("code missing"))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Authorization of an unknown hash: %v, want ErrNotFound", err)
		}
	})
}

func TestCompleteAuthorizationTwice(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ticket := sampleTicket("page", authOrg)
			mustCreateTicket(t, b.Store, ticket)
			first := t0.Add(time.Minute)
			if err := b.Store.CompleteAuthorization(t.Context(), ticket.Hash, sampleAuthorization("first", authOrg, certType, idHead), first); err != nil {
				t.Fatalf("first CompleteAuthorization: %v", err)
			}

			second := sampleAuthorization("second", authOrg, certType, idHead)
			err := b.Store.CompleteAuthorization(t.Context(), ticket.Hash, second, t0.Add(2*time.Minute))
			if !errors.Is(err, store.ErrTicketUsed) {
				t.Fatalf("second CompleteAuthorization: %v, want ErrTicketUsed", err)
			}

			if _, err := b.Store.Authorization(t.Context(), second.CodeHash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Authorization of the rejected code: %v, want ErrNotFound", err)
			}
			if got := mustAuthorization(t, b.Store, hashOf("code first")); !got.SupersededAt.IsZero() {
				t.Errorf("first authorization SupersededAt = %v after the rejected call, want zero", got.SupersededAt)
			}
			if got := mustTicket(t, b.Store, ticket.Hash); !got.UsedAt.Equal(first) {
				t.Errorf("ticket UsedAt = %v, want the first completion's %v", got.UsedAt, first)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM authorizations"); n != 1 {
				t.Errorf("%d authorizations stored, want 1", n)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM auth_persons"); n != 1 {
				t.Errorf("%d authorization persons stored, want 1", n)
			}
		})
	}
}

func TestCompleteAuthorizationUnknownTicket(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		a := sampleAuthorization("orphan", authOrg, certType, idHead)
		err := s.CompleteAuthorization(t.Context(), hashOf("ticket missing"), a, t0)
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("CompleteAuthorization with an unknown ticket: %v, want ErrNotFound", err)
		}
		if _, err := s.Authorization(t.Context(), a.CodeHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Authorization after the rejected call: %v, want ErrNotFound", err)
		}
	})
}

func TestCompleteAuthorizationTicketOfOtherOrg(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		ticket := sampleTicket("page", authOrg)
		mustCreateTicket(t, s, ticket)
		a := sampleAuthorization("other org", authOtherOrg, certType, idHead)
		err := s.CompleteAuthorization(t.Context(), ticket.Hash, a, t0.Add(time.Minute))
		if err == nil || errors.Is(err, store.ErrTicketUsed) || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("CompleteAuthorization for another org code than the ticket's: %v, want a mismatch error", err)
		}
		if got := mustTicket(t, s, ticket.Hash); !got.UsedAt.IsZero() {
			t.Errorf("ticket UsedAt = %v after the rejected call, want zero", got.UsedAt)
		}
		if _, err := s.Authorization(t.Context(), a.CodeHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Authorization after the rejected call: %v, want ErrNotFound", err)
		}
	})
}

// TestCompleteAuthorizationDuplicateCode fails the insert after
// the earlier code was superseded, so it checks that the whole transaction
// rolls back.
func TestCompleteAuthorizationDuplicateCode(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustComplete(t, s, "first", sampleAuthorization("first", authOrg, certType, idHead), t0.Add(time.Minute))

		ticket := sampleTicket("second", authOrg)
		mustCreateTicket(t, s, ticket)
		reused := sampleAuthorization("first", authOrg, certType, idHead)
		err := s.CompleteAuthorization(t.Context(), ticket.Hash, reused, t0.Add(2*time.Minute))
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("CompleteAuthorization with a stored code hash: %v, want ErrExists", err)
		}
		if got := mustTicket(t, s, ticket.Hash); !got.UsedAt.IsZero() {
			t.Errorf("ticket UsedAt = %v after the rolled back call, want zero", got.UsedAt)
		}
		if got := mustAuthorization(t, s, reused.CodeHash); !got.SupersededAt.IsZero() {
			t.Errorf("stored authorization SupersededAt = %v after the rolled back call, want zero", got.SupersededAt)
		}
	})
}

func TestCompleteAuthorizationRejectsInvalid(t *testing.T) {
	other := store.AuthorizedPerson{Name: "Spouse", IDCard: idSpouse, CertType: certType, Authorized: true}
	cases := map[string]func(*store.Authorization){
		"raw code as hash":     func(a *store.Authorization) { a.CodeHash = []byte("code in clear") },
		"empty org code":       func(a *store.Authorization) { a.OrgCode = "" },
		"empty applicant":      func(a *store.Authorization) { a.ApplicantIDCard = "" },
		"zero ExpiresAt":       func(a *store.Authorization) { a.ExpiresAt = time.Time{} },
		"already superseded":   func(a *store.Authorization) { a.SupersededAt = t0 },
		"already paid":         func(a *store.Authorization) { a.PaidAt = t0 },
		"no persons":           func(a *store.Authorization) { a.Persons = nil },
		"applicant not first":  func(a *store.Authorization) { a.Persons = []store.AuthorizedPerson{other, a.Persons[0]} },
		"other cert type":      func(a *store.Authorization) { a.Persons[0].CertType = otherCertType },
		"two applicants":       func(a *store.Authorization) { p := other; p.Applicant = true; a.Persons = append(a.Persons, p) },
		"first not applicant":  func(a *store.Authorization) { a.Persons[0].Applicant = false },
		"person twice":         func(a *store.Authorization) { a.Persons = append(a.Persons, other, other) },
		"applicant twice":      func(a *store.Authorization) { p := a.Persons[0]; p.Applicant = false; a.Persons = append(a.Persons, p) },
		"authorized with code": func(a *store.Authorization) { a.Persons[0].FailCode = 20023 },
		"refused without code": func(a *store.Authorization) { a.Persons[0].Authorized = false },
		"negative person id":   func(a *store.Authorization) { a.Persons[0].PersonID = -1 },
	}
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		for name, breakAuthorization := range cases {
			ticket := sampleTicket(name, authOrg)
			mustCreateTicket(t, s, ticket)
			a := sampleAuthorization(name, authOrg, certType, idHead)
			breakAuthorization(a)

			err := s.CompleteAuthorization(t.Context(), ticket.Hash, a, t0.Add(time.Minute))
			if err == nil || errors.Is(err, store.ErrTicketUsed) {
				t.Errorf("%s: CompleteAuthorization: %v, want a validation error", name, err)
				continue
			}
			// Errors end up in logs, which must not collect ID numbers.
			if strings.Contains(err.Error(), idHead) || strings.Contains(err.Error(), idSpouse) {
				t.Errorf("%s: error %q contains an ID number", name, err)
			}
			if got := mustTicket(t, s, ticket.Hash); !got.UsedAt.IsZero() {
				t.Errorf("%s: ticket UsedAt = %v after the rejected call, want zero", name, got.UsedAt)
			}
		}
	})
}

func TestCompleteAuthorizationUnknownRegistryID(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		ticket := sampleTicket("page", authOrg)
		mustCreateTicket(t, s, ticket)
		a := sampleAuthorization("ghost", authOrg, certType, idHead)
		a.Persons[0].PersonID = 404
		if err := s.CompleteAuthorization(t.Context(), ticket.Hash, a, t0.Add(time.Minute)); err == nil {
			t.Fatal("CompleteAuthorization with a person id the registry lacks succeeded, want a foreign key error")
		}
		if _, err := s.Authorization(t.Context(), a.CodeHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Authorization after the rejected call: %v, want ErrNotFound", err)
		}
		if got := mustTicket(t, s, ticket.Hash); !got.UsedAt.IsZero() {
			t.Errorf("ticket UsedAt = %v after the rejected call, want zero", got.UsedAt)
		}
	})
}

func TestCompleteAuthorizationRace(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ticket := sampleTicket("page", authOrg)
			mustCreateTicket(t, b.Store, ticket)

			// Two pools on one database stand for two gateway processes.
			stores := []store.Store{b.Store, b.Open(t)}
			const callers = 20
			errs := make([]error, callers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range callers {
				s := stores[i%len(stores)]
				a := sampleAuthorization(fmt.Sprintf("race %d", i), authOrg, certType, idHead)
				wg.Go(func() {
					<-start
					errs[i] = s.CompleteAuthorization(t.Context(), ticket.Hash, a, t0.Add(time.Minute))
				})
			}
			close(start)
			wg.Wait()

			succeeded := 0
			for i, err := range errs {
				switch {
				case err == nil:
					succeeded++
				case !errors.Is(err, store.ErrTicketUsed):
					t.Errorf("caller %d: %v, want nil or ErrTicketUsed", i, err)
				}
			}
			if succeeded != 1 {
				t.Errorf("%d of %d concurrent completions of one ticket succeeded, want exactly 1", succeeded, callers)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM authorizations"); n != 1 {
				t.Errorf("%d authorizations stored, want 1", n)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM auth_persons"); n != 1 {
				t.Errorf("%d authorization persons stored, want 1", n)
			}
		})
	}
}

func TestCompleteAuthorizationSupersedesEarlierCode(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		oldest := sampleAuthorization("oldest", authOrg, certType, idHead)
		older := sampleAuthorization("older", authOrg, certType, idHead)
		otherOrg := sampleAuthorization("other org", authOtherOrg, certType, idHead)
		otherApplicant := sampleAuthorization("other applicant", authOrg, certType, idSpouse)
		// The applicant is the cert type and the ID number together.
		byOtherCertType := sampleAuthorization("other cert type", authOrg, otherCertType, idHead)
		newest := sampleAuthorization("newest", authOrg, certType, idHead)

		mustComplete(t, s, "oldest", oldest, t0.Add(1*time.Minute))
		olderAt := t0.Add(2 * time.Minute)
		mustComplete(t, s, "older", older, olderAt)
		mustComplete(t, s, "other org", otherOrg, t0.Add(3*time.Minute))
		mustComplete(t, s, "other applicant", otherApplicant, t0.Add(4*time.Minute))
		mustComplete(t, s, "other cert type", byOtherCertType, t0.Add(5*time.Minute))
		now := t0.Add(6 * time.Minute)
		mustComplete(t, s, "newest", newest, now)

		// The oldest keeps the time it was first superseded at.
		if got := mustAuthorization(t, s, oldest.CodeHash).SupersededAt; !got.Equal(olderAt) {
			t.Errorf("oldest SupersededAt = %v, want %v when the next code was issued", got, olderAt)
		}
		if got := mustAuthorization(t, s, older.CodeHash).SupersededAt; !got.Equal(now) {
			t.Errorf("older SupersededAt = %v, want now %v", got, now)
		}
		for name, a := range map[string]*store.Authorization{
			"other org":       otherOrg,
			"other applicant": otherApplicant,
			"other cert type": byOtherCertType,
			"newest":          newest,
		} {
			if got := mustAuthorization(t, s, a.CodeHash).SupersededAt; !got.IsZero() {
				t.Errorf("%s SupersededAt = %v, want zero", name, got)
			}
		}
	})
}

func TestAuthorizationPersonsRoundTrip(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, familyFile(), t0)
		head := mustPerson(t, s, idHead)
		spouse := mustPerson(t, s, idSpouse)
		child := mustPerson(t, s, idChild)
		other := mustPerson(t, s, idOther)

		const notInFamily = "the person is not in the household head's family network"
		a := sampleAuthorization("family", authOrg, certType, idHead)
		a.CreatedAt = t0.Add(time.Minute)
		// Neither by ID number nor by person id, so that only the stored
		// position can give this order back.
		a.Persons = []store.AuthorizedPerson{
			{PersonID: head.ID, Name: head.Name, IDCard: idHead, CertType: certType, Applicant: true, Authorized: true},
			{PersonID: child.ID, Name: child.Name, IDCard: idChild, CertType: certType, Authorized: true},
			{PersonID: 0, Name: "Unknown Person", IDCard: "350100000000000099", CertType: otherCertType, FailCode: 20023, FailMsg: notInFamily},
			{PersonID: other.ID, Name: other.Name, IDCard: idOther, CertType: certType, FailCode: 20023, FailMsg: notInFamily},
			{PersonID: spouse.ID, Name: spouse.Name, IDCard: idSpouse, CertType: certType, Authorized: true},
		}
		mustComplete(t, s, "family", a, t0.Add(time.Minute))

		got := mustAuthorization(t, s, a.CodeHash)
		if !reflect.DeepEqual(got.Persons, a.Persons) {
			t.Errorf("Persons returned\n%+v\nwant\n%+v", got.Persons, a.Persons)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("Authorization returned\n%+v\nwant\n%+v", got, a)
		}
	})
}

// TestAuthorizationManyPersonsKeepOrder stores more persons than one INSERT
// statement binds, in descending ID number order.
func TestAuthorizationManyPersonsKeepOrder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		a := sampleAuthorization("crowd", authOrg, certType, idHead)
		for i := 120; i > 0; i-- {
			a.Persons = append(a.Persons, store.AuthorizedPerson{
				Name:     fmt.Sprintf("Person %03d", i),
				IDCard:   fmt.Sprintf("3501000000001%05d", i),
				CertType: certType,
				FailCode: 20023,
				FailMsg:  "not in the family network",
			})
		}
		mustComplete(t, s, "crowd", a, t0.Add(time.Minute))

		got := mustAuthorization(t, s, a.CodeHash)
		if len(got.Persons) != len(a.Persons) {
			t.Fatalf("%d persons returned, want %d", len(got.Persons), len(a.Persons))
		}
		for i := range a.Persons {
			if got.Persons[i] != a.Persons[i] {
				t.Errorf("person %d = %+v, want %+v", i, got.Persons[i], a.Persons[i])
			}
		}
	})
}

// TestConcurrentCompletionsKeepOneCurrent races completions of different
// tickets of one applicant. Each supersedes the code before it only if they
// run one at a time, so exactly one code must be left current.
func TestConcurrentCompletionsKeepOneCurrent(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			stores := []store.Store{b.Store, b.Open(t)}
			const callers = 10
			tickets := make([]*store.AuthTicket, callers)
			for i := range callers {
				tickets[i] = sampleTicket(fmt.Sprintf("applicant %d", i), authOrg)
				mustCreateTicket(t, b.Store, tickets[i])
			}

			errs := make([]error, callers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range callers {
				s := stores[i%len(stores)]
				a := sampleAuthorization(fmt.Sprintf("applicant %d", i), authOrg, certType, idHead)
				wg.Go(func() {
					<-start
					errs[i] = s.CompleteAuthorization(t.Context(), tickets[i].Hash, a, t0.Add(time.Duration(i)*time.Second))
				})
			}
			close(start)
			wg.Wait()

			for i, err := range errs {
				if err != nil {
					t.Errorf("completion %d: %v, want nil", i, err)
				}
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM authorizations"); n != callers {
				t.Errorf("%d authorizations stored, want %d", n, callers)
			}
			if n := countRows(t, b.DB, "SELECT COUNT(*) FROM authorizations WHERE superseded_at IS NULL"); n != 1 {
				t.Errorf("%d current authorizations of the applicant, want exactly 1", n)
			}
		})
	}
}

// TestAuthTimesRoundTripInUTC stores times of another zone with
// nanoseconds, and expects them back in UTC at microsecond precision, the
// precision of PostgreSQL's timestamptz.
func TestAuthTimesRoundTripInUTC(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*60*60)
	base := time.Date(2026, 3, 1, 17, 30, 0, 123456789, shanghai)
	stored := func(tm time.Time) time.Time { return tm.UTC().Truncate(time.Microsecond) }
	check := func(t *testing.T, name string, got, want time.Time) {
		t.Helper()
		if !got.Equal(stored(want)) {
			t.Errorf("%s = %v, want %v", name, got, stored(want))
		}
		if got.Location() != time.UTC {
			t.Errorf("%s is in %v, want UTC", name, got.Location())
		}
	}

	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		ticket := sampleTicket("page", authOrg)
		ticket.CreatedAt = base
		ticket.ExpiresAt = base.Add(30*time.Minute + 999*time.Nanosecond)
		mustCreateTicket(t, s, ticket)
		usedAt := base.Add(time.Minute + 1500*time.Nanosecond)
		a := sampleAuthorization("first", authOrg, certType, idHead)
		a.ExpiresAt = usedAt.Add(codeValidity)
		if err := s.CompleteAuthorization(t.Context(), ticket.Hash, a, usedAt); err != nil {
			t.Fatalf("CompleteAuthorization: %v", err)
		}
		paidAt := base.Add(2*time.Minute + 2500*time.Nanosecond)
		if err := s.MarkAuthorizationPaid(t.Context(), a.CodeHash, paidAt); err != nil {
			t.Fatalf("MarkAuthorizationPaid: %v", err)
		}
		supersededAt := base.Add(3*time.Minute + 3500*time.Nanosecond)
		mustComplete(t, s, "second", sampleAuthorization("second", authOrg, certType, idHead), supersededAt)

		gotTicket := mustTicket(t, s, ticket.Hash)
		check(t, "ticket CreatedAt", gotTicket.CreatedAt, ticket.CreatedAt)
		check(t, "ticket ExpiresAt", gotTicket.ExpiresAt, ticket.ExpiresAt)
		check(t, "ticket UsedAt", gotTicket.UsedAt, usedAt)
		got := mustAuthorization(t, s, a.CodeHash)
		check(t, "authorization CreatedAt", got.CreatedAt, usedAt)
		check(t, "authorization ExpiresAt", got.ExpiresAt, a.ExpiresAt)
		check(t, "authorization PaidAt", got.PaidAt, paidAt)
		check(t, "authorization SupersededAt", got.SupersededAt, supersededAt)
	})
}

func TestMarkAuthorizationPaid(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		a := sampleAuthorization("first", authOrg, certType, idHead)
		mustComplete(t, s, "first", a, t0.Add(time.Minute))
		if got := mustAuthorization(t, s, a.CodeHash); !got.PaidAt.IsZero() {
			t.Fatalf("PaidAt of a new authorization = %v, want zero", got.PaidAt)
		}

		paidAt := t0.Add(2 * time.Minute)
		if err := s.MarkAuthorizationPaid(t.Context(), a.CodeHash, paidAt); err != nil {
			t.Fatalf("MarkAuthorizationPaid: %v", err)
		}
		if got := mustAuthorization(t, s, a.CodeHash); !got.PaidAt.Equal(paidAt) {
			t.Errorf("PaidAt = %v, want %v", got.PaidAt, paidAt)
		}

		if err := s.MarkAuthorizationPaid(t.Context(), a.CodeHash, t0.Add(3*time.Minute)); err != nil {
			t.Fatalf("second MarkAuthorizationPaid: %v, want nil", err)
		}
		got := mustAuthorization(t, s, a.CodeHash)
		if !got.PaidAt.Equal(paidAt) {
			t.Errorf("PaidAt after the second call = %v, want the first %v", got.PaidAt, paidAt)
		}
		if !got.SupersededAt.IsZero() {
			t.Errorf("SupersededAt = %v after marking paid, want zero", got.SupersededAt)
		}
	})
}

func TestMarkAuthorizationPaidNotFound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		err := s.MarkAuthorizationPaid(t.Context(), hashOf("code missing"), t0)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkAuthorizationPaid of an unknown code: %v, want ErrNotFound", err)
		}
	})
}
