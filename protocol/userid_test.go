package protocol

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// The published demo key pair of the sandbox channel.
const (
	demoSM2Private = "8eb480ce1185b47c6271a4e065694c07387e456834d4929fdb532fdf0cbf5311"
	demoSM2Public  = "04c8b6bc8cb8315cd777c961887ad91e77098e2adf1c6530fc60270434eedd2c4271dd0b5c8cd9a1689058aacd3f053cf7f2b6d98c48f9454e29fd44e5414196a8"
)

func TestUserIDRoundTrip(t *testing.T) {
	priv, err := ParseSM2PrivateKey(demoSM2Private)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseSM2PublicKey(demoSM2Public)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.PublicKey.Equal(pub) {
		t.Fatal("demo public key does not belong to the demo private key")
	}
	want := UserID{CertType: "01", IDCard: "350102198003151234", Name: "林建华"}
	text, err := EncryptUserID(pub, want)
	if err != nil {
		t.Fatal(err)
	}
	if text != strings.ToUpper(text) || !strings.HasPrefix(text, "04") {
		t.Errorf("user_id %q is not upper-case hex of C1C3C2 with an uncompressed C1", text)
	}
	got, err := DecryptUserID(priv, strings.ToLower(text))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("decrypted %+v, want %+v", got, want)
	}
}

func TestUserIDWrongKey(t *testing.T) {
	pub, _ := ParseSM2PublicKey(demoSM2Public)
	text, err := EncryptUserID(pub, UserID{CertType: "01", IDCard: "1", Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sm2.GenerateKey(rand.Reader)
	if _, err := DecryptUserID(other, text); err == nil {
		t.Error("user_id decrypts under another key")
	}
	if _, err := DecryptUserID(other, "zz"); err == nil {
		t.Error("non-hex user_id accepted")
	}
}
