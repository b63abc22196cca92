package channel_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
)

const testMasterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

var testNow = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func newRegistry(t *testing.T, s store.Store) *channel.Registry {
	t.Helper()
	key, err := channel.ParseMasterKey(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := channel.NewRegistry(s, key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rsaChannel returns the settings of an fjs channel with sign type RSA and
// the RSA public key rsaPublicKey.
func rsaChannel(t *testing.T, rsaPublicKey string) channel.Config {
	t.Helper()
	return channel.Config{
		AppID:         "hmbrsa",
		OrgCode:       "ORG001",
		ServiceID:     "SVC001",
		Profile:       protocol.ProfileFJS,
		SignType:      protocol.SignRSA,
		EncType:       protocol.EncSM4,
		KeyDerivation: protocol.DeriveSalt,
		SecurityMode:  store.ModeKey,
		SM2PublicKey:  sm2PublicKeyHex(t),
		RSAPublicKey:  rsaPublicKey,
		Functions:     api.Functions,
		Secrets: channel.Secrets{
			AppSecret: "0123456789abcdef0123456789abcdef",
			BizKey:    "bizkey-for-registry-tests",
			Salt:      "fedcba9876543210fedcba9876543210",
		},
	}
}

// rsaPublicKeyDER returns the PKIX DER of a new RSA key of the given size,
// base64 encoded.
func rsaPublicKeyDER(t *testing.T, bits int) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestAddRSAChannel(t *testing.T) {
	publicDER := rsaPublicKeyDER(t, 2048)
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		r := newRegistry(t, s)
		added, err := r.Add(t.Context(), rsaChannel(t, publicDER), testNow)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}

		if !strings.HasPrefix(added.RSAPublicKey, "-----BEGIN PUBLIC KEY-----\n") {
			t.Errorf("stored RSA public key %q, want PEM (PKIX)", added.RSAPublicKey)
		}
		storedKey, err := protocol.ParseRSAPublicKey(added.RSAPublicKey)
		if err != nil {
			t.Fatalf("stored RSA public key: %v", err)
		}
		wantKey, err := protocol.ParseRSAPublicKey(publicDER)
		if err != nil {
			t.Fatal(err)
		}
		if !storedKey.Equal(wantKey) {
			t.Error("stored RSA public key differs from the key given")
		}

		platform, err := protocol.ParseRSAPrivateKey(added.Secrets.PlatformRSAPrivateKey)
		if err != nil {
			t.Fatalf("platform RSA private key: %v", err)
		}
		if bits := platform.N.BitLen(); bits != channel.MinRSAKeyBits {
			t.Errorf("platform RSA key has %d bits, want %d", bits, channel.MinRSAKeyBits)
		}
		if added.Keys.Signer == nil || added.Keys.Signer.SignType() != protocol.SignRSA {
			t.Errorf("Signer %v, want an RSA signer", added.Keys.Signer)
		}
		if added.Keys.Verifier == nil || added.Keys.Verifier.SignType() != protocol.SignRSA {
			t.Errorf("Verifier %v, want an RSA verifier", added.Keys.Verifier)
		}
	})
}

func TestAddRSAChannelRejected(t *testing.T) {
	short := rsaPublicKeyDER(t, 1024)
	valid := rsaPublicKeyDER(t, 2048)
	cases := []struct {
		name   string
		config func(c *channel.Config)
		want   string
	}{
		{"no RSA public key", func(c *channel.Config) { c.RSAPublicKey = "" }, "sign type RSA needs the channel's RSA public key"},
		{"1024-bit key", func(c *channel.Config) { c.RSAPublicKey = short }, "channel RSA public key: key has 1024 bits: at least 2048 are required"},
		{"malformed key", func(c *channel.Config) { c.RSAPublicKey = "MIIB" }, "channel RSA public key: not an RSA public key"},
		{"1024-bit platform key", func(c *channel.Config) { c.Secrets.PlatformRSAPrivateKey = rsaPrivateKeyPEM(t, 1024) }, "platform RSA private key: key has 1024 bits"},
		{"RSA key with sign type SM3", func(c *channel.Config) { c.SignType = protocol.SignSM3 }, "the channel's RSA public key is set, but sign type SM3 does not use it"},
	}
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		r := newRegistry(t, s)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				config := rsaChannel(t, valid)
				c.config(&config)
				_, err := r.Add(t.Context(), config, testNow)
				var invalid *channel.InvalidError
				if !errors.As(err, &invalid) {
					t.Fatalf("Add: %v, want *channel.InvalidError", err)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("Add: %q, want it to contain %q", err, c.want)
				}
			})
		}
		rows, err := r.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 0 {
			t.Errorf("%d channels stored after the rejected adds, want 0", len(rows))
		}
	})
}

func TestRotateKeepsRSAKeys(t *testing.T) {
	publicDER := rsaPublicKeyDER(t, 2048)
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		r := newRegistry(t, s)
		added, err := r.Add(t.Context(), rsaChannel(t, publicDER), testNow)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		if _, err := r.Rotate(t.Context(), added.AppID, channel.Rotation{Secrets: channel.Secrets{AppSecret: "a-new-appsecret-of-32-characters"}}, testNow.Add(time.Hour)); err != nil {
			t.Fatalf("Rotate: %v", err)
		}

		// A second registry has no cached channel, so it reads what Rotate
		// stored.
		rotated, err := newRegistry(t, s).Lookup(t.Context(), added.AppID)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if rotated.Secrets.AppSecret != "a-new-appsecret-of-32-characters" {
			t.Errorf("appsecret %q after Rotate, want the new one", rotated.Secrets.AppSecret)
		}
		if rotated.Secrets.PlatformRSAPrivateKey != added.Secrets.PlatformRSAPrivateKey {
			t.Error("Rotate replaced the platform's RSA private key")
		}
		if rotated.RSAPublicKey != added.RSAPublicKey {
			t.Errorf("RSA public key %q after Rotate, want %q", rotated.RSAPublicKey, added.RSAPublicKey)
		}
	})
}

func rsaPrivateKeyPEM(t *testing.T, bits int) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestLookupLongAppIDSkipsStore looks up an appid longer than any channel's
// on a closed database: the result is ErrNotFound, not a database error.
func TestLookupLongAppIDSkipsStore(t *testing.T) {
	b := storetest.Backends(t)[0]
	r := newRegistry(t, b.Store)
	if err := b.DB.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := r.Lookup(t.Context(), strings.Repeat("a", channel.MaxAppIDLength+1))
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup of a long appid: %v, want ErrNotFound", err)
	}
	if _, err := r.Lookup(t.Context(), "ldxt"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup of a short appid on the closed database: %v, want a database error", err)
	}
}

// sm2PublicKeyHex returns the public key of a new SM2 key pair.
func sm2PublicKeyHex(t *testing.T) string {
	t.Helper()
	key, err := channel.GenerateSM2KeyHex()
	if err != nil {
		t.Fatal(err)
	}
	private, err := protocol.ParseSM2PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return channel.SM2PublicKeyHex(&private.PublicKey)
}

func TestRotateKeys(t *testing.T) {
	publicDER := rsaPublicKeyDER(t, 2048)
	storetest.ForEach(t, func(t *testing.T, s store.Store) {
		r := newRegistry(t, s)
		rsaAdded, err := r.Add(t.Context(), rsaChannel(t, publicDER), testNow)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		sm2Config := rsaChannel(t, "")
		sm2Config.AppID, sm2Config.SignType = "hmbsm2", protocol.SignSM2
		sm2Added, err := r.Add(t.Context(), sm2Config, testNow)
		if err != nil {
			t.Fatalf("Add SM2 channel: %v", err)
		}
		md5Config := rsaChannel(t, "")
		md5Config.AppID, md5Config.SignType = "hmbmd5", protocol.SignMD5
		if _, err := r.Add(t.Context(), md5Config, testNow); err != nil {
			t.Fatalf("Add MD5 channel: %v", err)
		}
		later := testNow.Add(time.Hour)

		newSM2Public := sm2PublicKeyHex(t)
		if _, err := r.Rotate(t.Context(), "hmbsm2", channel.Rotation{SM2PublicKey: newSM2Public, PlatformKey: true}, later); err != nil {
			t.Fatalf("Rotate SM2 keys: %v", err)
		}
		newRSAPublic := rsaPublicKeyDER(t, 2048)
		if _, err := r.Rotate(t.Context(), "hmbrsa", channel.Rotation{RSAPublicKey: newRSAPublic, PlatformKey: true}, later); err != nil {
			t.Fatalf("Rotate RSA keys: %v", err)
		}

		// A second registry has no cached channel, so it reads what Rotate
		// stored.
		fresh := newRegistry(t, s)
		sm2After, err := fresh.Lookup(t.Context(), "hmbsm2")
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if sm2After.SM2PublicKey != newSM2Public {
			t.Errorf("SM2 public key %s after Rotate, want %s", sm2After.SM2PublicKey, newSM2Public)
		}
		if sm2After.Secrets.PlatformSM2PrivateKey == sm2Added.Secrets.PlatformSM2PrivateKey {
			t.Error("Rotate kept the platform's SM2 private key")
		}
		if sm2After.Secrets.AppSecret != sm2Added.Secrets.AppSecret {
			t.Error("Rotate changed the appsecret, which it was not given")
		}
		rsaAfter, err := fresh.Lookup(t.Context(), "hmbrsa")
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if !strings.HasPrefix(rsaAfter.RSAPublicKey, "-----BEGIN PUBLIC KEY-----") || rsaAfter.RSAPublicKey == rsaAdded.RSAPublicKey {
			t.Errorf("RSA public key after Rotate is %q, want the new key as PEM", rsaAfter.RSAPublicKey)
		}
		if rsaAfter.Secrets.PlatformRSAPrivateKey == rsaAdded.Secrets.PlatformRSAPrivateKey {
			t.Error("Rotate kept the platform's RSA private key")
		}

		rejected := []struct {
			name   string
			appid  string
			change channel.Rotation
			want   string
		}{
			{"platform key of a digest channel", "hmbmd5", channel.Rotation{PlatformKey: true}, "sign type MD5 uses no platform key pair"},
			{"RSA key of an SM2 channel", "hmbsm2", channel.Rotation{RSAPublicKey: newRSAPublic}, "sign type SM2 does not use it"},
			{"invalid SM2 key", "hmbsm2", channel.Rotation{SM2PublicKey: "04abcd"}, "channel SM2 public key"},
		}
		for _, c := range rejected {
			t.Run(c.name, func(t *testing.T) {
				before, err := fresh.Lookup(t.Context(), c.appid)
				if err != nil {
					t.Fatal(err)
				}
				_, err = r.Rotate(t.Context(), c.appid, c.change, later.Add(time.Hour))
				var invalid *channel.InvalidError
				if !errors.As(err, &invalid) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Rotate: %v, want an InvalidError containing %q", err, c.want)
				}
				after, err := newRegistry(t, s).Lookup(t.Context(), c.appid)
				if err != nil {
					t.Fatal(err)
				}
				if !after.UpdatedAt.Equal(before.UpdatedAt) || after.SM2PublicKey != before.SM2PublicKey || after.RSAPublicKey != before.RSAPublicKey {
					t.Error("a rejected Rotate changed the stored channel")
				}
			})
		}
	})
}
