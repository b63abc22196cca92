package sqlstore_test

import (
	"errors"
	"testing"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

func TestPersonByID(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, []store.PersonRecord{
			inFamily(employee(1, idHead, 50000), "F1", "0"),
			employee(2, idSolo, 100),
		}, t0)
		want := mustPerson(t, s, idHead)

		got, err := s.PersonByID(t.Context(), want.ID)
		if err != nil {
			t.Fatalf("PersonByID(%d): %v", want.ID, err)
		}
		if *got != *want {
			t.Errorf("PersonByID(%d) = %+v, want %+v as PersonByIDCard returns it", want.ID, got, want)
		}

		other := mustPerson(t, s, idSolo)
		if other.ID == want.ID {
			t.Fatalf("two persons share id %d", want.ID)
		}
		got, err = s.PersonByID(t.Context(), other.ID)
		if err != nil {
			t.Fatalf("PersonByID(%d): %v", other.ID, err)
		}
		if got.IDCard != idSolo {
			t.Errorf("PersonByID(%d) returned ID number %s, want %s", other.ID, got.IDCard, idSolo)
		}
	})
}

func TestPersonByIDNotFound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		mustImport(t, s, []store.PersonRecord{employee(1, idSolo, 100)}, t0)
		missing := mustPerson(t, s, idSolo).ID + 1000

		_, err := s.PersonByID(t.Context(), missing)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PersonByID(%d) error = %v, want store.ErrNotFound", missing, err)
		}
	})
}
