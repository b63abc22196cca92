package sqlstore_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
)

// t0 is the fixed clock of the tests. Its microseconds check that times keep
// the precision both databases store.
var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)

func sampleChannel(appid string) *store.Channel {
	return &store.Channel{
		AppID:         appid,
		OrgCode:       "HMB001",
		ServiceID:     "HMB-SVC-01",
		Profile:       "fjs",
		SignType:      "SM3",
		EncType:       "SM4",
		KeyDerivation: "salt",
		SecurityMode:  store.ModeKey,
		SM2PublicKey:  "04c8b6bc8c",
		AllowedHosts:  []string{"127.0.0.1", "localhost:8443"},
		Functions:     []string{"CI00.01.00.01", "CI00.02.00.01"},
		Secrets:       []byte{0x01, 0x02, 0x00, 0xff},
		CreatedAt:     t0,
		UpdatedAt:     t0,
	}
}

func TestChannelRoundTrip(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		want := sampleChannel("ldxt")
		want.SignType = "RSA"
		want.RSAPublicKey = "-----BEGIN PUBLIC KEY-----\nMIIC\n-----END PUBLIC KEY-----\n"
		if err := s.CreateChannel(t.Context(), want); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		got, err := s.Channel(t.Context(), "ldxt")
		if err != nil {
			t.Fatalf("Channel: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Channel returned\n%+v\nwant\n%+v", got, want)
		}
	})
}

func TestChannelEmptyListsAndSecrets(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		c := sampleChannel("anon")
		c.SecurityMode = store.ModeAnonymous
		c.AllowedHosts, c.Functions, c.Secrets = nil, []string{}, nil
		c.Disabled = true
		if err := s.CreateChannel(t.Context(), c); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		got, err := s.Channel(t.Context(), "anon")
		if err != nil {
			t.Fatalf("Channel: %v", err)
		}
		if got.AllowedHosts != nil || got.Functions != nil {
			t.Errorf("AllowedHosts, Functions = %q, %q, want nil, nil", got.AllowedHosts, got.Functions)
		}
		if len(got.Secrets) != 0 {
			t.Errorf("Secrets = %x, want empty", got.Secrets)
		}
		if !got.Disabled {
			t.Error("Disabled = false, want true")
		}
		if got.SecurityMode != store.ModeAnonymous {
			t.Errorf("SecurityMode = %q, want %q", got.SecurityMode, store.ModeAnonymous)
		}
	})
}

func TestChannelCreateStampsZeroTimes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		c := sampleChannel("ldxt")
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		before := time.Now().Add(-time.Second)
		if err := s.CreateChannel(t.Context(), c); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		got, err := s.Channel(t.Context(), "ldxt")
		if err != nil {
			t.Fatalf("Channel: %v", err)
		}
		if got.CreatedAt.Before(before) {
			t.Errorf("CreatedAt = %v, want the current time", got.CreatedAt)
		}
		if !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Errorf("UpdatedAt = %v, want CreatedAt %v", got.UpdatedAt, got.CreatedAt)
		}
	})
}

func TestChannelDuplicate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if err := s.CreateChannel(t.Context(), sampleChannel("ldxt")); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		second := sampleChannel("ldxt")
		second.OrgCode = "OTHER"
		err := s.CreateChannel(t.Context(), second)
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("second CreateChannel: %v, want ErrExists", err)
		}
		got, err := s.Channel(t.Context(), "ldxt")
		if err != nil {
			t.Fatalf("Channel: %v", err)
		}
		if got.OrgCode != "HMB001" {
			t.Errorf("OrgCode = %q after the rejected duplicate, want HMB001", got.OrgCode)
		}
	})
}

func TestChannelUpdate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if err := s.CreateChannel(t.Context(), sampleChannel("ldxt")); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		want := &store.Channel{
			AppID:         "ldxt",
			OrgCode:       "HMB002",
			ServiceID:     "HMB-SVC-02",
			Profile:       "hsa",
			SignType:      "RSA",
			EncType:       "",
			KeyDerivation: "raw",
			SecurityMode:  store.ModeToken,
			SM2PublicKey:  "04aabb",
			RSAPublicKey:  "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
			AllowedHosts:  []string{"pay.example.com"},
			Disabled:      true,
			Secrets:       []byte("sealed"),
			// CreatedAt is kept from the stored channel whatever c says.
			CreatedAt: t0.Add(time.Hour),
			UpdatedAt: t0.Add(2 * time.Hour),
		}
		if err := s.UpdateChannel(t.Context(), want, t0); err != nil {
			t.Fatalf("UpdateChannel: %v", err)
		}
		got, err := s.Channel(t.Context(), "ldxt")
		if err != nil {
			t.Fatalf("Channel: %v", err)
		}
		want.CreatedAt = t0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Channel after update returned\n%+v\nwant\n%+v", got, want)
		}
	})
}

// TestChannelUpdateLost writes a channel back after another update moved
// its updated_at on, as a disable racing a rotation would. The late write
// must not undo the first.
func TestChannelUpdateLost(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if err := s.CreateChannel(t.Context(), sampleChannel("ldxt")); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		first, err := s.Channel(t.Context(), "ldxt")
		if err != nil {
			t.Fatal(err)
		}
		second := *first
		first.Disabled, first.UpdatedAt = true, t0.Add(time.Second)
		if err := s.UpdateChannel(t.Context(), first, t0); err != nil {
			t.Fatalf("first UpdateChannel: %v", err)
		}
		second.OrgCode, second.UpdatedAt = "HMB009", t0.Add(2*time.Second)
		if err := s.UpdateChannel(t.Context(), &second, t0); !errors.Is(err, store.ErrChanged) {
			t.Fatalf("second UpdateChannel: %v, want ErrChanged", err)
		}
		got, err := s.Channel(t.Context(), "ldxt")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Disabled || got.OrgCode != "HMB001" || !got.UpdatedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("after the lost update: disabled %v, org_code %s, updated_at %v; want the first update's", got.Disabled, got.OrgCode, got.UpdatedAt)
		}
	})
}

func TestChannelNotFound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if _, err := s.Channel(t.Context(), "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Channel: %v, want ErrNotFound", err)
		}
		if err := s.UpdateChannel(t.Context(), sampleChannel("missing"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateChannel: %v, want ErrNotFound", err)
		}
		if _, err := s.Channel(t.Context(), "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Channel after UpdateChannel: %v, want ErrNotFound", err)
		}
	})
}

func TestChannelsOrderedByAppID(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		list, err := s.Channels(t.Context())
		if err != nil {
			t.Fatalf("Channels on an empty store: %v", err)
		}
		if len(list) != 0 {
			t.Errorf("Channels on an empty store returned %d channels", len(list))
		}

		// Bytewise order puts upper case first, and "a-b" before "ab",
		// where a linguistic collation would not.
		for _, appid := range []string{"beta", "ab", "Zeta", "a-b", "alpha"} {
			if err := s.CreateChannel(t.Context(), sampleChannel(appid)); err != nil {
				t.Fatalf("CreateChannel %q: %v", appid, err)
			}
		}
		list, err = s.Channels(t.Context())
		if err != nil {
			t.Fatalf("Channels: %v", err)
		}
		var got []string
		for _, c := range list {
			got = append(got, c.AppID)
		}
		want := []string{"Zeta", "a-b", "ab", "alpha", "beta"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Channels returned %q, want %q", got, want)
		}
		if !reflect.DeepEqual(list[0], sampleChannel("Zeta")) {
			t.Errorf("Channels returned\n%+v\nwant\n%+v", list[0], sampleChannel("Zeta"))
		}
	})
}

func TestTokenSaveAndGet(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if err := s.CreateChannel(t.Context(), sampleChannel("ldxt")); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		want := &store.Token{Hash: []byte("0123456789abcdef0123456789abcdef"), AppID: "ldxt", ExpiresAt: t0.Add(2 * time.Hour)}
		if err := s.SaveToken(t.Context(), want, t0); err != nil {
			t.Fatalf("SaveToken: %v", err)
		}
		got, err := s.Token(t.Context(), want.Hash)
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Token returned %+v, want %+v", got, want)
		}

		if _, err := s.Token(t.Context(), []byte("another hash")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Token of an unknown hash: %v, want ErrNotFound", err)
		}
	})
}

func TestTokenExpiredIsReturned(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		if err := s.CreateChannel(t.Context(), sampleChannel("ldxt")); err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		expired := &store.Token{Hash: []byte("expired"), AppID: "ldxt", ExpiresAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		if err := s.SaveToken(t.Context(), expired, expired.ExpiresAt.Add(-time.Hour)); err != nil {
			t.Fatalf("SaveToken: %v", err)
		}
		got, err := s.Token(t.Context(), expired.Hash)
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if !got.ExpiresAt.Equal(expired.ExpiresAt) {
			t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, expired.ExpiresAt)
		}
	})
}

// TestTokenSaveDeletesExpired checks that saving a token deletes the
// channel's expired tokens and keeps the live ones and other channels'.
func TestTokenSaveDeletesExpired(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		for _, appid := range []string{"ldxt", "other"} {
			if err := s.CreateChannel(t.Context(), sampleChannel(appid)); err != nil {
				t.Fatalf("CreateChannel: %v", err)
			}
		}
		old := &store.Token{Hash: []byte("old"), AppID: "ldxt", ExpiresAt: t0.Add(-time.Minute)}
		live := &store.Token{Hash: []byte("live"), AppID: "ldxt", ExpiresAt: t0.Add(time.Hour)}
		otherOld := &store.Token{Hash: []byte("other old"), AppID: "other", ExpiresAt: t0.Add(-time.Minute)}
		for _, tok := range []*store.Token{old, live, otherOld} {
			if err := s.SaveToken(t.Context(), tok, t0.Add(-2*time.Hour)); err != nil {
				t.Fatalf("SaveToken: %v", err)
			}
		}

		fresh := &store.Token{Hash: []byte("fresh"), AppID: "ldxt", ExpiresAt: t0.Add(2 * time.Hour)}
		if err := s.SaveToken(t.Context(), fresh, t0); err != nil {
			t.Fatalf("SaveToken: %v", err)
		}
		if _, err := s.Token(t.Context(), old.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired token after a save: %v, want ErrNotFound", err)
		}
		for _, tok := range []*store.Token{live, otherOld, fresh} {
			if _, err := s.Token(t.Context(), tok.Hash); err != nil {
				t.Errorf("token %s after a save: %v, want it kept", tok.Hash, err)
			}
		}
	})
}

func TestTokenOfUnknownChannel(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		err := s.SaveToken(t.Context(), &store.Token{Hash: []byte("h"), AppID: "missing", ExpiresAt: t0}, t0)
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SaveToken: %v, want ErrNotFound", err)
		}
		if _, err := s.Token(t.Context(), []byte("h")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Token after the rejected save: %v, want ErrNotFound", err)
		}
	})
}
