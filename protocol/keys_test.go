package protocol

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// TestParseKeyWrongKind gives each key parser a key of another kind and
// checks that the error names what was given, in words and without the
// encoding library's internals.
func TestParseKeyWrongKind(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	sm2Key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPrivateDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPublicDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sm2PrivateDER, err := smx509.MarshalPKCS8PrivateKey(sm2Key)
	if err != nil {
		t.Fatal(err)
	}
	sm2PublicDER, err := smx509.MarshalPKIXPublicKey(&sm2Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemText := func(blockType string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
	}
	rsaPrivatePEM := pemText("PRIVATE KEY", rsaPrivateDER)
	rsaPublicPEM := pemText("PUBLIC KEY", rsaPublicDER)
	sm2PrivatePEM := pemText("PRIVATE KEY", sm2PrivateDER)
	sm2PublicPEM := pemText("PUBLIC KEY", sm2PublicDER)

	parseRSAPublic := func(s string) error { _, err := ParseRSAPublicKey(s); return err }
	parseRSAPrivate := func(s string) error { _, err := ParseRSAPrivateKey(s); return err }
	parseSM2Public := func(s string) error { _, err := ParseSM2PublicKey(s); return err }
	parseSM2Private := func(s string) error { _, err := ParseSM2PrivateKey(s); return err }
	cases := []struct {
		name  string
		parse func(string) error
		input string
		want  string
	}{
		{"RSA public given RSA private PEM", parseRSAPublic, rsaPrivatePEM, `the PEM block "PRIVATE KEY" is a private key`},
		{"RSA public given RSA private base64", parseRSAPublic, base64.StdEncoding.EncodeToString(rsaPrivateDER), "this is a private key"},
		{"RSA public given SM2 public", parseRSAPublic, sm2PublicPEM, "this is an SM2 public key, not an RSA public key"},
		{"RSA public given noise", parseRSAPublic, base64.StdEncoding.EncodeToString([]byte("not a key at all")), "not an RSA public key in PKIX or PKCS #1 form"},
		{"RSA private given RSA public PEM", parseRSAPrivate, rsaPublicPEM, `the PEM block "PUBLIC KEY" is a public key`},
		{"RSA private given RSA public base64", parseRSAPrivate, base64.StdEncoding.EncodeToString(rsaPublicDER), "this is a public key"},
		{"RSA private given SM2 private", parseRSAPrivate, sm2PrivatePEM, "this is an SM2 private key, not an RSA private key"},
		{"SM2 public given RSA public", parseSM2Public, rsaPublicPEM, "this is an RSA public key, not an SM2 public key"},
		{"SM2 public given SM2 private", parseSM2Public, sm2PrivatePEM, `the PEM block "PRIVATE KEY" is a private key`},
		{"SM2 private given SM2 public", parseSM2Private, sm2PublicPEM, `the PEM block "PUBLIC KEY" is a public key`},
		{"SM2 private given RSA private", parseSM2Private, rsaPrivatePEM, "this is an RSA private key, not an SM2 private key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse(c.input)
			if err == nil {
				t.Fatal("parse accepts a key of the wrong kind")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "asn1") || strings.Contains(err.Error(), "*") {
				t.Errorf("error %q shows library internals", err)
			}
		})
	}
}
