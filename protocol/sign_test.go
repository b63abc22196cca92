package protocol

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

func TestDigestSign(t *testing.T) {
	tests := []struct {
		typ  SignType
		in   string
		want string
	}{
		{SignMD5, "abc", "900150983CD24FB0D6963F7D28E17F72"},
		{SignMD5, "", "D41D8CD98F00B204E9800998ECF8427E"},
		{SignSM3, "abc", "66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.in, func(t *testing.T) {
			d, err := NewDigestSigner(tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Sign([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Sign(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestDigestVerify(t *testing.T) {
	const (
		md5abc = "900150983CD24FB0D6963F7D28E17F72"
		sm3abc = "66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0"
	)
	tests := []struct {
		name      string
		typ       SignType
		signature string
		ok        bool
	}{
		{"md5 upper", SignMD5, md5abc, true},
		{"md5 lower", SignMD5, strings.ToLower(md5abc), true},
		{"sm3 upper", SignSM3, sm3abc, true},
		{"sm3 lower", SignSM3, strings.ToLower(sm3abc), true},
		{"md5 flipped", SignMD5, "800150983CD24FB0D6963F7D28E17F72", false},
		{"sm3 flipped last", SignSM3, sm3abc[:63] + "1", false},
		{"md5 short", SignMD5, md5abc[:31], false},
		{"md5 long", SignMD5, md5abc + "00", false},
		{"md5 given sm3", SignMD5, sm3abc, false},
		{"sm3 given md5", SignSM3, md5abc, false},
		{"md5 not hex", SignMD5, "Z00150983CD24FB0D6963F7D28E17F72", false},
		{"md5 space", SignMD5, " 900150983CD24FB0D6963F7D28E17F7", false},
		{"md5 base64", SignMD5, base64.StdEncoding.EncodeToString([]byte(md5abc))[:32], false},
		{"empty", SignMD5, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDigestSigner(tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			err = d.Verify([]byte("abc"), tt.signature)
			if tt.ok && err != nil {
				t.Errorf("Verify(%q) = %v, want nil", tt.signature, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("Verify(%q) accepts it", tt.signature)
			}
		})
	}
}

// sm2RawToDER converts a raw r‖s signature to ASN.1 DER.
func sm2RawToDER(t testing.TB, raw []byte) []byte {
	t.Helper()
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// sm2Order is the order n of the SM2 curve.
var sm2Order, _ = new(big.Int).SetString("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)

func TestSM2Verify(t *testing.T) {
	ps := parties(t)
	message := []byte("chs_fjs_appid=ldxt&key=testkey")
	signature, err := NewSM2Signer(ps.client.sm2).Sign(message)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		t.Fatalf("signature %q is not base64: %v", signature, err)
	}
	if len(raw) != 64 {
		t.Fatalf("signature has %d bytes, want the raw 64-byte r‖s", len(raw))
	}
	der := sm2RawToDER(t, raw)

	strangerSig, err := NewSM2Signer(ps.stranger.sm2).Sign(message)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(message)
	p256DER, err := ecdsa.SignASN1(rand.Reader, p256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	otherUID, err := ps.client.sm2.Sign(rand.Reader, message, sm2.NewSM2SignerOption(true, []byte("ALICE123@YAHOO.COM")))
	if err != nil {
		t.Fatal(err)
	}
	sOverOrder := append(append([]byte(nil), raw[:32]...), sm2Order.Bytes()...)
	zeroR := append(make([]byte, 32), raw[32:]...)

	tests := []struct {
		name      string
		signature string
		ok        bool
	}{
		{"raw", signature, true},
		{"der", b64(der), true},
		{"63 bytes", b64(raw[:63]), false},
		{"65 bytes", b64(append(append([]byte(nil), raw...), 0)), false},
		{"32 bytes", b64(raw[:32]), false},
		{"zero 64 bytes", b64(make([]byte, 64)), false},
		{"zero r", b64(zeroR), false},
		{"s is the order", b64(sOverOrder), false},
		{"r and s swapped", b64(append(append([]byte(nil), raw[32:]...), raw[:32]...)), false},
		{"flipped raw", b64(append([]byte{raw[0] ^ 1}, raw[1:]...)), false},
		{"der trailing byte", b64(append(append([]byte(nil), der...), 0)), false},
		{"der truncated", b64(der[:len(der)-1]), false},
		{"another key", strangerSig, false},
		{"p256 der", b64(p256DER), false},
		{"other user id", b64(otherUID), false},
		{"not base64", "!" + signature[1:], false},
		{"hex", hex.EncodeToString(raw), false},
		{"empty", "", false},
	}
	v := NewSM2Verifier(&ps.client.sm2.PublicKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(message, tt.signature)
			if tt.ok && err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
			if !tt.ok && err == nil {
				t.Errorf("Verify accepts %s", tt.signature)
			}
		})
	}
	if err := v.Verify([]byte("chs_fjs_appid=ldxt&key=testkez"), signature); err == nil {
		t.Error("Verify accepts the signature over a changed message")
	}
}

// TestSM2VerifyIndependently checks the raw signature with gmsm's own DER
// verification, so both sides agree on the user ID and the r‖s layout.
func TestSM2VerifyIndependently(t *testing.T) {
	ps := parties(t)
	message := []byte("appId=X&data={\"pageNo\":\"2\"}&key=K")
	signature, err := NewSM2Signer(ps.server.sm2).Sign(message)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		t.Fatal(err)
	}
	if !sm2.VerifyASN1WithSM2(&ps.server.sm2.PublicKey, []byte("1234567812345678"), message, sm2RawToDER(t, raw)) {
		t.Error("gmsm rejects the signature under user ID 1234567812345678")
	}
}

// TestSM2SignPads signs until r or s has a leading zero byte, which the raw
// form must keep so the signature stays 64 bytes.
func TestSM2SignPads(t *testing.T) {
	ps := parties(t)
	signer := NewSM2Signer(ps.client.sm2)
	verifier := NewSM2Verifier(&ps.client.sm2.PublicKey)
	message := []byte("k=v&key=K")
	for range 5000 {
		signature, err := signer.Sign(message)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(signature)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 64 {
			t.Fatalf("signature has %d bytes, want 64", len(raw))
		}
		if raw[0] != 0 && raw[32] != 0 {
			continue
		}
		if err := verifier.Verify(message, signature); err != nil {
			t.Errorf("signature with a leading zero byte does not verify: %v", err)
		}
		return
	}
	t.Fatal("no signature with a leading zero byte in 5000 tries")
}

// TestSM2VerifierWrongCurve configures a P-256 key where an SM2 key
// belongs: verification must fail without a panic.
func TestSM2VerifierWrongCurve(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	message := []byte("k=v&key=K")
	digest := sha256.Sum256(message)
	der, err := ecdsa.SignASN1(rand.Reader, p256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	v := NewSM2Verifier(&p256.PublicKey)
	if err := v.Verify(message, b64(der)); err == nil {
		t.Error("SM2 verifier accepts a P-256 ECDSA signature")
	}
	if err := v.Verify(message, b64(make([]byte, 64))); err == nil {
		t.Error("SM2 verifier with a P-256 key accepts a zero signature")
	}
}

func TestRSAVerify(t *testing.T) {
	ps := parties(t)
	message := []byte("chs_fjs_appid=ldxt&key=testkey")
	signature, err := NewRSASigner(ps.client.rsa).Sign(message)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(message)
	if err := rsa.VerifyPKCS1v15(&ps.client.rsa.PublicKey, crypto.SHA256, digest[:], raw); err != nil {
		t.Errorf("signature is not PKCS #1 v1.5 over SHA-256: %v", err)
	}

	sha1Digest := sha1.Sum(message)
	sha1Sig, err := rsa.SignPKCS1v15(nil, ps.client.rsa, crypto.SHA1, sha1Digest[:])
	if err != nil {
		t.Fatal(err)
	}
	pssSig, err := rsa.SignPSS(rand.Reader, ps.client.rsa, crypto.SHA256, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	strangerSig, err := NewRSASigner(ps.stranger.rsa).Sign(message)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		signature string
		ok        bool
	}{
		{"valid", signature, true},
		{"flipped", b64(append([]byte{raw[0] ^ 1}, raw[1:]...)), false},
		{"truncated", b64(raw[:len(raw)-1]), false},
		{"sha1", b64(sha1Sig), false},
		{"pss", b64(pssSig), false},
		{"another key", strangerSig, false},
		{"not base64", "%" + signature[1:], false},
		{"empty", "", false},
	}
	v := NewRSAVerifier(&ps.client.rsa.PublicKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(message, tt.signature)
			if tt.ok && err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
			if !tt.ok && err == nil {
				t.Errorf("Verify accepts %s", tt.name)
			}
		})
	}
}

// TestOpenSM2Signature puts other SM2 signature forms into a sealed
// message.
func TestOpenSM2Signature(t *testing.T) {
	for _, p := range allProfiles {
		s := suite{p, SignSM2, EncNone}
		client, server := suiteKeys(t, s)
		body := seal(t, s, client, false)
		field := signFieldOf(p)
		raw, err := base64.StdEncoding.DecodeString(fieldString(t, body, field))
		if err != nil {
			t.Fatal(err)
		}
		signString, err := p.SignString(body, testChannel(p).signKey)
		if err != nil {
			t.Fatal(err)
		}
		p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(signString)
		p256DER, err := ecdsa.SignASN1(rand.Reader, p256, digest[:])
		if err != nil {
			t.Fatal(err)
		}

		t.Run(p.String()+"/der", func(t *testing.T) {
			changed := withField(t, body, field, quoteJSON(b64(sm2RawToDER(t, raw))))
			if _, err := openBody(p, changed, false, server); err != nil {
				t.Errorf("open with a DER signature: %v", err)
			}
		})
		t.Run(p.String()+"/63 bytes", func(t *testing.T) {
			changed := withField(t, body, field, quoteJSON(b64(raw[:63])))
			_, err := openBody(p, changed, false, server)
			wantCode(t, err, CodeBadSignature)
		})
		t.Run(p.String()+"/p256 der", func(t *testing.T) {
			changed := withField(t, body, field, quoteJSON(b64(p256DER)))
			_, err := openBody(p, changed, false, server)
			wantCode(t, err, CodeBadSignature)
		})
		t.Run(p.String()+"/digest", func(t *testing.T) {
			md5, err := NewDigestSigner(SignMD5)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := md5.Sign(signString)
			if err != nil {
				t.Fatal(err)
			}
			_, err = openBody(p, withField(t, body, field, quoteJSON(sig)), false, server)
			wantCode(t, err, CodeBadSignature)
		})
	}
}

// TestOpenWithSigningKeyOnly opens a forged message with keys built from
// our SM2 or RSA private key alone. Such keys cannot verify the peer, so
// they must not accept what they cannot check.
func TestOpenWithSigningKeyOnly(t *testing.T) {
	ps := parties(t)
	configs := map[string]KeyConfig{
		"SM2": {SignType: SignSM2, SignKey: "testkey", SM2PrivateKey: ps.server.sm2},
		"RSA": {SignType: SignRSA, SignKey: "testkey", RSAPrivateKey: ps.server.rsa},
	}
	for name, c := range configs {
		t.Run(name, func(t *testing.T) {
			keys := mustKeys(t, c)
			body := withField(t, []byte(fjsBody), FieldFJSSign, quoteJSON(b64(make([]byte, 64))))
			opened, err := openBody(ProfileFJS, body, false, keys)
			if err == nil {
				t.Fatalf("Open accepts a forged signature and returns payload %s", opened.Payload)
			}
			if code := CodeOf(err); !IsProtocolCode(code) && code != CodeInternal {
				t.Errorf("code = %d (%v), want a protocol code or %d", code, err, CodeInternal)
			}
		})
	}
}

func TestParseSignType(t *testing.T) {
	for _, text := range []string{"MD5", "SM3", "SM2", "RSA"} {
		got, err := ParseSignType(text)
		if err != nil {
			t.Errorf("ParseSignType(%q): %v", text, err)
			continue
		}
		if string(got) != text {
			t.Errorf("ParseSignType(%q) = %q", text, got)
		}
	}
	for _, text := range []string{"", "HMAC", "SHA256", "MD5 "} {
		if _, err := ParseSignType(text); err == nil {
			t.Errorf("ParseSignType(%q) succeeds", text)
		}
	}
}

func TestNewKeysSignRejects(t *testing.T) {
	tests := []struct {
		name string
		c    KeyConfig
	}{
		{"sm2 no key", KeyConfig{SignType: SignSM2, SignKey: "k"}},
		{"rsa no key", KeyConfig{SignType: SignRSA, SignKey: "k"}},
		{"unknown", KeyConfig{SignType: "HMAC", SignKey: "k"}},
		{"lower case", KeyConfig{SignType: "md5", SignKey: "k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeys(tt.c); err == nil {
				t.Error("NewKeys succeeds")
			}
		})
	}
	if _, err := NewDigestSigner(SignSM2); err == nil {
		t.Error("NewDigestSigner(SM2) succeeds")
	}
}

func TestParseSM2Keys(t *testing.T) {
	ps := parties(t)
	key := ps.client.sm2
	scalar := key.D.FillBytes(make([]byte, 32))
	point := elliptic.Marshal(key.Curve, key.X, key.Y) //nolint:staticcheck // the uncompressed point is the wire form

	pkcs8, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := smx509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	privateForms := map[string]string{
		"hex":          hex.EncodeToString(scalar),
		"upper hex":    strings.ToUpper(hex.EncodeToString(scalar)),
		"base64":       b64(scalar),
		"leading zero": hex.EncodeToString(append([]byte{0}, scalar...)),
		"pem pkcs8":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}
	for name, text := range privateForms {
		t.Run("private/"+name, func(t *testing.T) {
			got, err := ParseSM2PrivateKey(text)
			if err != nil {
				t.Fatal(err)
			}
			if got.D.Cmp(key.D) != 0 {
				t.Errorf("parsed scalar %X, want %X", got.D, key.D)
			}
		})
	}
	publicForms := map[string]string{
		"hex":      hex.EncodeToString(point),
		"base64":   b64(point),
		"pem pkix": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})),
	}
	for name, text := range publicForms {
		t.Run("public/"+name, func(t *testing.T) {
			got, err := ParseSM2PublicKey(text)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(&key.PublicKey) {
				t.Error("parsed a different public key")
			}
		})
	}

	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256PKIX, err := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	badPrivate := map[string]string{
		"31 bytes":  hex.EncodeToString(scalar[:31]),
		"zero":      hex.EncodeToString(make([]byte, 32)),
		"order":     hex.EncodeToString(sm2Order.Bytes()),
		"not a key": "not a key",
	}
	for name, text := range badPrivate {
		t.Run("bad private/"+name, func(t *testing.T) {
			if _, err := ParseSM2PrivateKey(text); err == nil {
				t.Error("ParseSM2PrivateKey succeeds")
			}
		})
	}
	badPublic := map[string]string{
		"compressed":  hex.EncodeToString(append([]byte{0x02}, point[1:33]...)),
		"64 bytes":    hex.EncodeToString(point[1:]),
		"off curve":   hex.EncodeToString(append(append([]byte(nil), point[:64]...), point[64]^1)),
		"p256 pem":    string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p256PKIX})),
		"empty":       "",
		"garbage pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	}
	for name, text := range badPublic {
		t.Run("bad public/"+name, func(t *testing.T) {
			if _, err := ParseSM2PublicKey(text); err == nil {
				t.Error("ParseSM2PublicKey succeeds")
			}
		})
	}
}
