package servertest

import (
	"strings"
	"testing"
	"time"

	"chsgate/internal/registry"
	"chsgate/internal/store"
)

// ImportPersons imports records into s at now.
func ImportPersons(t *testing.T, s store.Store, records []store.PersonRecord, now time.Time) {
	t.Helper()
	if _, err := s.ImportPersons(t.Context(), records, now); err != nil {
		t.Fatalf("import %d persons: %v", len(records), err)
	}
}

// Balance returns the balance, in fen, of the person's personal account. It
// fails the test when the person has no account.
func Balance(t *testing.T, s store.Store, person store.PersonRecord) int64 {
	t.Helper()
	masked := registry.MaskIDCard(person.IDCard)
	known, err := s.PersonByIDCard(t.Context(), person.IDCard)
	if err != nil {
		t.Fatalf("look up %s: %v", masked, err)
	}
	balance, ok, err := s.AccountBalance(t.Context(), known.ID)
	if err != nil {
		t.Fatalf("balance of %s: %v", masked, err)
	}
	if !ok {
		t.Fatalf("%s has no personal account", masked)
	}
	return balance
}

// WithCheckDigit completes 17 digits of a mainland ID number with its
// GB 11643-1999 check character.
func WithCheckDigit(first17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return first17 + string("10X98765432"[sum%11])
}

// FlipCheckDigit returns the ID number with another check character, which
// makes it invalid.
func FlipCheckDigit(idcard string) string {
	last := idcard[len(idcard)-1]
	next := byte('0')
	if last == '0' {
		next = '1'
	}
	return idcard[:len(idcard)-1] + string(next)
}

// CheckNoPersonalData fails the test when logs contain the name, the phone
// number or the first 17 characters of the ID number of any of the persons.
// Matching 17 characters also finds an ID number sent with a wrong check
// character. The failure messages show ID numbers masked.
func CheckNoPersonalData(t *testing.T, logs string, persons ...store.PersonRecord) {
	t.Helper()
	for _, p := range persons {
		masked := registry.MaskIDCard(p.IDCard)
		if id := p.IDCard[:min(17, len(p.IDCard))]; id != "" && strings.Contains(logs, id) {
			t.Errorf("logs contain the ID number of %s", masked)
		}
		if p.Name != "" && strings.Contains(logs, p.Name) {
			t.Errorf("logs contain the name of %s", masked)
		}
		if p.Phone != "" && strings.Contains(logs, p.Phone) {
			t.Errorf("logs contain the phone number of %s", masked)
		}
	}
}
