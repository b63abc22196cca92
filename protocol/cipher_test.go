package protocol

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/sm4"
)

// rawECB encrypts plain, a whole number of blocks, in ECB mode without
// padding, so a test can choose the padding bytes that the receiver
// decrypts.
func rawECB(t testing.TB, enc EncType, key, plain []byte) []byte {
	t.Helper()
	var block cipher.Block
	var err error
	switch enc {
	case EncSM4:
		block, err = sm4.NewCipher(key)
	case EncAES:
		block, err = aes.NewCipher(key)
	default:
		t.Fatalf("enc type %s is not a block cipher", enc)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(plain)%16 != 0 {
		t.Fatalf("plaintext of %d bytes is not whole blocks", len(plain))
	}
	out := make([]byte, len(plain))
	for i := 0; i < len(plain); i += 16 {
		block.Encrypt(out[i:i+16], plain[i:i+16])
	}
	return out
}

func blockOf(fill byte, tail ...byte) []byte {
	return append(bytes.Repeat([]byte{fill}, 16-len(tail)), tail...)
}

var testBlockKey = []byte("863B5F40C70B71EA")

func TestBlockCipherPadding(t *testing.T) {
	tests := []struct {
		name  string
		plain []byte // whole blocks, padding included
		want  string // the plaintext after unpadding, checked when ok
		ok    bool
	}{
		{"pad 1", blockOf('A', 0x01), strings.Repeat("A", 15), true},
		{"pad 2", blockOf('A', 0x02, 0x02), strings.Repeat("A", 14), true},
		{"pad 16", append(blockOf('A'), blockOf(0x10)...), strings.Repeat("A", 16), true},
		{"last byte 0", blockOf('A', 0x00), "", false},
		{"last byte 17", blockOf('A', 0x11), "", false},
		{"last byte 255", blockOf('A', 0xff), "", false},
		{"inconsistent", blockOf('A', 0x03, 0x02, 0x03), "", false},
		{"inconsistent first", blockOf(0x10, 0x0f), "", false},
		{"inconsistent full", append([]byte{0x0f}, blockOf(0x10)[1:]...), "", false},
		{"pad 32 over two blocks", append(blockOf(0x20), blockOf(0x20)...), "", false},
		{"pad 17 over two blocks", append(blockOf('A', 0x11), blockOf(0x11)...), "", false},
	}
	for _, enc := range []EncType{EncSM4, EncAES} {
		c, err := NewBlockCipher(enc, testBlockKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(string(enc)+"/"+tt.name, func(t *testing.T) {
				got, err := c.Decrypt(rawECB(t, enc, testBlockKey, tt.plain))
				if !tt.ok {
					if err == nil {
						t.Errorf("Decrypt accepts padding % x and returns %q", tt.plain[len(tt.plain)-16:], got)
					}
					return
				}
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if string(got) != tt.want {
					t.Errorf("Decrypt = %q, want %q", got, tt.want)
				}
			})
		}
	}
}

func TestBlockCipherLength(t *testing.T) {
	c, err := NewBlockCipher(EncSM4, testBlockKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 15, 17, 31, 33} {
		if _, err := c.Decrypt(make([]byte, n)); err == nil {
			t.Errorf("Decrypt accepts %d bytes", n)
		}
	}
}

func TestBlockCipherEncrypt(t *testing.T) {
	for _, enc := range []EncType{EncSM4, EncAES} {
		c, err := NewBlockCipher(enc, testBlockKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 15, 16, 17, 32} {
			plain := bytes.Repeat([]byte{'x'}, n)
			ct, err := c.Encrypt(plain)
			if err != nil {
				t.Fatal(err)
			}
			pad := 16 - n%16
			want := rawECB(t, enc, testBlockKey, append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...))
			if !bytes.Equal(ct, want) {
				t.Errorf("%s: Encrypt(%d bytes) = %X, want %X", enc, n, ct, want)
			}
		}
	}
}

// TestBlockCipherKeepsInput decrypts the same ciphertext twice. A Cipher
// must not write into the caller's ciphertext.
func TestBlockCipherKeepsInput(t *testing.T) {
	c, err := NewBlockCipher(EncSM4, testBlockKey)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := c.Encrypt([]byte(`{"a":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	saved := bytes.Clone(ct)
	first, err := c.Decrypt(ct)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != `{"a":"1"}` {
		t.Errorf("first Decrypt = %q", first)
	}
	if !bytes.Equal(ct, saved) {
		t.Errorf("Decrypt changed its input from %X to %X", saved, ct)
	}
	second, err := c.Decrypt(ct)
	if err != nil {
		t.Fatalf("second Decrypt of the same ciphertext: %v", err)
	}
	if string(second) != `{"a":"1"}` {
		t.Errorf("second Decrypt = %q", second)
	}
}

func TestNewBlockCipherRejects(t *testing.T) {
	tests := []struct {
		name string
		enc  EncType
		key  []byte
	}{
		{"short key", EncSM4, []byte("863B5F40C70B71E")},
		{"long key", EncAES, []byte("863B5F40C70B71EA0")},
		{"rsa", EncRSA, testBlockKey},
		{"none", EncNone, testBlockKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewBlockCipher(tt.enc, tt.key); err == nil {
				t.Errorf("NewBlockCipher(%q, %d bytes) succeeds", tt.enc, len(tt.key))
			}
		})
	}
}

// deriveIndependently computes the derivation of the rules with the
// standard block ciphers: the first 16 characters of the upper-case hex of
// the first ciphertext block of the padded secret, under the first 16
// bytes of keySource.
func deriveIndependently(t testing.TB, enc EncType, keySource, secret string) string {
	t.Helper()
	padded := []byte(secret)
	pad := 16 - len(padded)%16
	padded = append(padded, bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := rawECB(t, enc, []byte(keySource[:16]), padded[:16])
	return strings.ToUpper(hex.EncodeToString(ct))[:16]
}

func TestDeriveDataKey(t *testing.T) {
	const (
		salt      = "f2313d85601342b8b15c872286c6aaff"
		appSecret = "67b082f9d58045619a4ef05147b87659"
		hsaAppID  = "43AF047BBA47FC8A1AE8EFB232BDBBCB"
		hsaSecret = "4117E877F5FA0A0188891283E4B617D5"
	)
	tests := []struct {
		name    string
		enc     EncType
		d       KeyDerivation
		secrets ChannelSecrets
		want    string
	}{
		{"salt sm4", EncSM4, DeriveSalt, ChannelSecrets{Salt: salt, AppSecret: appSecret}, deriveIndependently(t, EncSM4, salt, appSecret)},
		{"salt aes", EncAES, DeriveSalt, ChannelSecrets{Salt: salt, AppSecret: appSecret}, deriveIndependently(t, EncAES, salt, appSecret)},
		{"default is salt", EncSM4, "", ChannelSecrets{Salt: salt, AppSecret: appSecret}, deriveIndependently(t, EncSM4, salt, appSecret)},
		{"salt first 16 bytes", EncSM4, DeriveSalt, ChannelSecrets{Salt: salt[:16] + "zz", AppSecret: appSecret}, deriveIndependently(t, EncSM4, salt, appSecret)},
		{"appid sm4", EncSM4, DeriveAppID, ChannelSecrets{AppID: hsaAppID, AppSecret: hsaSecret}, "863B5F40C70B71EA"},
		{"appid sm4 independent", EncSM4, DeriveAppID, ChannelSecrets{AppID: hsaAppID, AppSecret: hsaSecret}, deriveIndependently(t, EncSM4, hsaAppID, hsaSecret)},
		{"appid aes", EncAES, DeriveAppID, ChannelSecrets{AppID: hsaAppID, AppSecret: hsaSecret}, deriveIndependently(t, EncAES, hsaAppID, hsaSecret)},
		{"appid ignores salt", EncSM4, DeriveAppID, ChannelSecrets{AppID: hsaAppID, AppSecret: hsaSecret, Salt: salt}, "863B5F40C70B71EA"},
		{"salt-hex", EncSM4, DeriveSaltHex, ChannelSecrets{Salt: salt}, string([]byte{0xf2, 0x31, 0x3d, 0x85, 0x60, 0x13, 0x42, 0xb8, 0xb1, 0x5c, 0x87, 0x22, 0x86, 0xc6, 0xaa, 0xff})},
		{"raw", EncAES, DeriveRaw, ChannelSecrets{RawKey: []byte("0123456789abcdef")}, "0123456789abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeriveDataKey(tt.enc, tt.d, tt.secrets)
			if err != nil {
				t.Fatalf("DeriveDataKey: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("data key = %X, want %X", got, tt.want)
			}
		})
	}
}

// TestDeriveDataKeyDiffers checks that the fjs salt derivation does not
// fall back to another derivation's inputs.
func TestDeriveDataKeyDiffers(t *testing.T) {
	secrets := ChannelSecrets{AppID: "43AF047BBA47FC8A1AE8EFB232BDBBCB", AppSecret: "4117E877F5FA0A0188891283E4B617D5", Salt: "f2313d85601342b8b15c872286c6aaff"}
	bySalt, err := DeriveDataKey(EncSM4, DeriveSalt, secrets)
	if err != nil {
		t.Fatal(err)
	}
	byAppID, err := DeriveDataKey(EncSM4, DeriveAppID, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(bySalt, byAppID) {
		t.Errorf("salt and appid derivations give the same key %s", bySalt)
	}
	bySM4, err := DeriveDataKey(EncSM4, DeriveSalt, secrets)
	if err != nil {
		t.Fatal(err)
	}
	byAES, err := DeriveDataKey(EncAES, DeriveSalt, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(bySM4, byAES) {
		t.Errorf("SM4 and AES derivations give the same key %s", bySM4)
	}
}

func TestDeriveDataKeyRejects(t *testing.T) {
	tests := []struct {
		name    string
		enc     EncType
		d       KeyDerivation
		secrets ChannelSecrets
	}{
		{"short salt", EncSM4, DeriveSalt, ChannelSecrets{Salt: "f2313d85601342b", AppSecret: "s"}},
		{"no salt", EncSM4, DeriveSalt, ChannelSecrets{AppSecret: "s"}},
		{"no appsecret", EncSM4, DeriveSalt, ChannelSecrets{Salt: "f2313d85601342b8b15c872286c6aaff"}},
		{"short appid", EncAES, DeriveAppID, ChannelSecrets{AppID: "ldxt", AppSecret: "s"}},
		{"salt-hex not hex", EncSM4, DeriveSaltHex, ChannelSecrets{Salt: "g2313d85601342b8b15c872286c6aaff"}},
		{"salt-hex short", EncSM4, DeriveSaltHex, ChannelSecrets{Salt: "f2313d85601342b8b15c872286c6aa"}},
		{"raw short", EncSM4, DeriveRaw, ChannelSecrets{RawKey: []byte("0123456789abcde")}},
		{"raw missing", EncSM4, DeriveRaw, ChannelSecrets{}},
		{"unknown", EncSM4, "pbkdf2", ChannelSecrets{Salt: "f2313d85601342b8b15c872286c6aaff", AppSecret: "s"}},
		{"rsa", EncRSA, DeriveSalt, ChannelSecrets{Salt: "f2313d85601342b8b15c872286c6aaff", AppSecret: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if key, err := DeriveDataKey(tt.enc, tt.d, tt.secrets); err == nil {
				t.Errorf("DeriveDataKey succeeds with key %X", key)
			}
		})
	}
}

func TestParseKeyDerivation(t *testing.T) {
	tests := []struct {
		text string
		want KeyDerivation
		raw  string
	}{
		{"", DeriveSalt, ""},
		{"salt", DeriveSalt, ""},
		{"salt-hex", DeriveSaltHex, ""},
		{"appid", DeriveAppID, ""},
		{"raw:0123456789abcdef", DeriveRaw, "0123456789abcdef"},
		{"raw:30313233343536373839616263646566", DeriveRaw, "0123456789abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			d, raw, err := ParseKeyDerivation(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if d != tt.want {
				t.Errorf("derivation = %q, want %q", d, tt.want)
			}
			if string(raw) != tt.raw {
				t.Errorf("raw key = %q, want %q", raw, tt.raw)
			}
		})
	}
	for _, text := range []string{"SALT", "raw:", "raw:short", "raw:3031323334353637383961626364656g", "pbkdf2"} {
		t.Run(text, func(t *testing.T) {
			if _, _, err := ParseKeyDerivation(text); err == nil {
				t.Errorf("ParseKeyDerivation(%q) succeeds", text)
			}
		})
	}
}

func TestParseEncType(t *testing.T) {
	tests := []struct {
		text string
		want EncType
	}{
		{"", EncNone},
		{"none", EncNone},
		{"SM4", EncSM4},
		{"AES", EncAES},
		{"RSA", EncRSA},
		{"PKCS7", EncPKCS7},
	}
	for _, tt := range tests {
		got, err := ParseEncType(tt.text)
		if err != nil {
			t.Errorf("ParseEncType(%q): %v", tt.text, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseEncType(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	for _, text := range []string{"DES", "SM2", "sm4x"} {
		if _, err := ParseEncType(text); err == nil {
			t.Errorf("ParseEncType(%q) succeeds", text)
		}
	}
}

func TestRSACipher(t *testing.T) {
	ps := parties(t)
	sender := NewRSACipher(&ps.server.rsa.PublicKey, nil)
	receiver := NewRSACipher(nil, ps.server.rsa)
	size := ps.server.rsa.Size()

	for _, n := range []int{0, 1, size - 11, size - 10, 600} {
		plain := bytes.Repeat([]byte{'p'}, n)
		ct, err := sender.Encrypt(plain)
		if err != nil {
			t.Fatalf("Encrypt(%d bytes): %v", n, err)
		}
		blocks := max(1, (n+size-12)/(size-11))
		if len(ct) != blocks*size {
			t.Errorf("Encrypt(%d bytes) has %d bytes, want %d blocks of %d", n, len(ct), blocks, size)
		}
		got, err := receiver.Decrypt(ct)
		if err != nil {
			t.Fatalf("Decrypt(%d bytes): %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("round trip of %d bytes gives %d bytes", n, len(got))
		}
	}

	ct, err := sender.Encrypt([]byte(requestPayload))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty":        nil,
		"truncated":    ct[:len(ct)-1],
		"extra byte":   append(bytes.Clone(ct), 0),
		"flipped":      append(bytes.Clone(ct[:len(ct)-1]), ct[len(ct)-1]^1),
		"zero block":   make([]byte, size),
		"block of max": bytes.Repeat([]byte{0xff}, size),
	}
	for name, ciphertext := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := receiver.Decrypt(ciphertext); err == nil {
				t.Errorf("Decrypt accepts %s ciphertext", name)
			}
		})
	}
	if _, err := NewRSACipher(nil, ps.stranger.rsa).Decrypt(ct); err == nil {
		t.Error("another private key decrypts the ciphertext")
	}
	if _, err := receiver.Encrypt([]byte("x")); err == nil {
		t.Error("Encrypt without the peer's public key succeeds")
	}
	if _, err := sender.Decrypt(ct); err == nil {
		t.Error("Decrypt without a private key succeeds")
	}
}

func TestPKCS7Cipher(t *testing.T) {
	ps := parties(t)
	sender := NewPKCS7Cipher(pkcs.SM4CBC, ps.server.cert, nil, nil)
	receiver := NewPKCS7Cipher(pkcs.SM4CBC, nil, ps.server.cert, ps.server.sm2)

	ct, err := sender.Encrypt([]byte(requestPayload))
	if err != nil {
		t.Fatal(err)
	}
	got, err := receiver.Decrypt(bytes.Clone(ct))
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if string(got) != requestPayload {
		t.Errorf("Decrypt = %s", got)
	}

	bad := map[string][]byte{
		"empty":          nil,
		"tiny sequence":  {0x30, 0x03, 0x02, 0x01, 0x00},
		"long length":    {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"indefinite":     {0x30, 0x80, 0x00, 0x00},
		"text":           []byte(requestPayload),
		"truncated":      ct[:len(ct)/2],
		"trailing bytes": append(bytes.Clone(ct), 0, 0),
	}
	for name, ciphertext := range bad {
		t.Run(name, func(t *testing.T) {
			if plain, err := receiver.Decrypt(ciphertext); err == nil {
				t.Errorf("Decrypt accepts %s ciphertext and returns %q", name, plain)
			}
		})
	}
	// CBC content has no integrity of its own: a flipped last byte fails the
	// padding check most of the time, but about once in 256 decrypts to
	// garbage. Either way the original never comes back, and the envelope's
	// signature over the plaintext rejects the garbage.
	flipped := append(bytes.Clone(ct[:len(ct)-1]), ct[len(ct)-1]^1)
	if plain, err := receiver.Decrypt(flipped); err == nil && string(plain) == requestPayload {
		t.Error("Decrypt of a flipped ciphertext returns the original plaintext")
	}

	stranger := NewPKCS7Cipher(pkcs.SM4CBC, nil, ps.stranger.cert, ps.stranger.sm2)
	if _, err := stranger.Decrypt(bytes.Clone(ct)); err == nil {
		t.Error("another recipient decrypts the envelope")
	}
	if _, err := receiver.Encrypt([]byte("x")); err == nil {
		t.Error("Encrypt without the peer's certificate succeeds")
	}
	if _, err := sender.Decrypt(bytes.Clone(ct)); err == nil {
		t.Error("Decrypt without our certificate and key succeeds")
	}
}

func TestNewKeysEncRejects(t *testing.T) {
	base := KeyConfig{SignType: SignMD5, SignKey: "k"}
	tests := []struct {
		name   string
		change func(c *KeyConfig)
	}{
		{"unknown", func(c *KeyConfig) { c.EncType = "DES" }},
		{"sm4 short salt", func(c *KeyConfig) {
			c.EncType = EncSM4
			c.Secrets = ChannelSecrets{Salt: "short", AppSecret: "s"}
		}},
		{"aes no secret", func(c *KeyConfig) {
			c.EncType = EncAES
			c.Secrets = ChannelSecrets{Salt: "f2313d85601342b8b15c872286c6aaff"}
		}},
		{"rsa no key", func(c *KeyConfig) { c.EncType = EncRSA }},
		{"pkcs7 no certificate", func(c *KeyConfig) { c.EncType = EncPKCS7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			if _, err := NewKeys(c); err == nil {
				t.Error("NewKeys succeeds")
			}
		})
	}
}

// openCiphertext puts text in the ciphertext field of a sealed SM4 request
// of profile p and opens it.
func openCiphertext(t *testing.T, p Profile, text string) error {
	t.Helper()
	s := suite{p, SignMD5, EncSM4}
	client, server := suiteKeys(t, s)
	body := withField(t, seal(t, s, client, false), encFieldOf(p), quoteJSON(text))
	_, err := openBody(p, body, false, server)
	return err
}

func testDataKey(t testing.TB, p Profile) []byte {
	t.Helper()
	c := testChannel(p)
	key, err := DeriveDataKey(EncSM4, c.derivation, ChannelSecrets{AppID: c.appID, AppSecret: c.appSecret, Salt: c.salt})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sm4Padded encrypts plain under key with PKCS #7 padding, written here so
// that the test does not rely on the cipher under test.
func sm4Padded(t testing.TB, key []byte, plain string) []byte {
	t.Helper()
	pad := 16 - len(plain)%16
	return rawECB(t, EncSM4, key, append([]byte(plain), bytes.Repeat([]byte{byte(pad)}, pad)...))
}

func TestOpenBadCiphertext(t *testing.T) {
	for _, p := range allProfiles {
		key := testDataKey(t, p)
		valid := sm4Padded(t, key, `{"org_code":"ORG001"}`)
		tests := []struct {
			name       string
			ciphertext []byte
		}{
			{"last byte 0", rawECB(t, EncSM4, key, append([]byte(`{"a":"1"}`), 0, 0, 0, 0, 0, 0, 0))},
			{"last byte 17", rawECB(t, EncSM4, key, append([]byte(`{"a":"1"}`), 1, 1, 1, 1, 1, 1, 0x11))},
			{"inconsistent pad", rawECB(t, EncSM4, key, append([]byte(`{"a":"1"}`), 7, 7, 7, 7, 7, 6, 7))},
			{"pad 32", rawECB(t, EncSM4, key, append(blockOf(0x20), blockOf(0x20)...))},
			{"length 15", valid[:15]},
			{"length 17", append(bytes.Clone(valid[:16]), valid[16])},
			{"length 33", append(bytes.Clone(valid), 0)},
			{"empty json", sm4Padded(t, key, "")},
			{"not json", sm4Padded(t, key, "hello")},
			{"truncated json", sm4Padded(t, key, `{"org_code":"ORG001"`)},
			{"trailing data", sm4Padded(t, key, `{"org_code":"ORG001"} x`)},
			{"two values", sm4Padded(t, key, `{"a":"1"}{"b":"2"}`)},
			{"invalid utf8", sm4Padded(t, key, "{\"name\":\"\xff\"}")},
			{"gbk chinese", sm4Padded(t, key, "{\"name\":\"\xcd\xf5\xb6\xfe\"}")},
			{"invalid utf8 name", sm4Padded(t, key, "{\"\xc3\":\"1\"}")},
			{"control character", sm4Padded(t, key, "{\"name\":\"a\x00b\"}")},
			{"duplicate", sm4Padded(t, key, `{"org_code":"ORG001","org_code":"ORG002"}`)},
			{"duplicate nested", sm4Padded(t, key, `{"p":{"a":"1","a":"2"}}`)},
			{"other key", sm4Padded(t, []byte("0123456789abcdef"), `{"org_code":"ORG001"}`)},
		}
		for _, tt := range tests {
			t.Run(p.String()+"/"+tt.name, func(t *testing.T) {
				err := openCiphertext(t, p, encodeCiphertext(p, tt.ciphertext))
				wantCode(t, err, CodeDecryptFailed)
			})
		}
	}
}

// TestOpenNotObject decrypts fjs business fields that are JSON but not one
// object.
func TestOpenNotObject(t *testing.T) {
	key := testDataKey(t, ProfileFJS)
	for _, plain := range []string{`[{"org_code":"ORG001"}]`, `"ORG001"`, `1`, `null`} {
		t.Run(plain, func(t *testing.T) {
			err := openCiphertext(t, ProfileFJS, encodeCiphertext(ProfileFJS, sm4Padded(t, key, plain)))
			wantCode(t, err, CodeDecryptFailed)
		})
	}
}

func TestOpenBadCiphertextText(t *testing.T) {
	key := testDataKey(t, ProfileFJS)
	b64 := base64.StdEncoding.EncodeToString(sm4Padded(t, key, `{"org_code":"ORG001"}`))
	hsaHex := encodeCiphertext(ProfileHSA, sm4Padded(t, testDataKey(t, ProfileHSA), `{"org_code":"ORG001"}`))
	tests := []struct {
		name    string
		profile Profile
		text    string
	}{
		{"fjs empty", ProfileFJS, ""},
		{"fjs bad characters", ProfileFJS, "@@@@" + b64[4:]},
		{"fjs url alphabet", ProfileFJS, "-_-_" + b64[4:]},
		{"fjs no padding", ProfileFJS, strings.TrimRight(b64, "=")},
		{"fjs short padding", ProfileFJS, strings.TrimSuffix(b64, "=")},
		{"fjs nonzero pad bits", ProfileFJS, b64[:len(b64)-3] + "B=="},
		{"fjs space", ProfileFJS, b64[:8] + " " + b64[8:]},
		{"fjs hex", ProfileFJS, encodeCiphertext(ProfileHSA, sm4Padded(t, key, `{"org_code":"ORG001"}`))},
		{"hsa empty", ProfileHSA, ""},
		{"hsa odd length", ProfileHSA, hsaHex[:len(hsaHex)-1]},
		{"hsa not hex", ProfileHSA, "ZZ" + hsaHex[2:]},
		{"hsa space", ProfileHSA, hsaHex[:2] + " " + hsaHex[2:]},
		{"hsa prefix", ProfileHSA, "0x" + hsaHex},
		{"hsa base64", ProfileHSA, b64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, openCiphertext(t, tt.profile, tt.text), CodeDecryptFailed)
		})
	}
}

// TestOpenCiphertextTextForms accepts lower-case hex and base64 broken
// into lines, as MIME encoders write it.
func TestOpenCiphertextTextForms(t *testing.T) {
	for _, p := range allProfiles {
		s := suite{p, SignSM3, EncSM4}
		client, server := suiteKeys(t, s)
		body := seal(t, s, client, false)
		text := fieldString(t, body, encFieldOf(p))
		var changed string
		if p == ProfileHSA {
			changed = strings.ToLower(text)
		} else {
			var lines []string
			for len(text) > 76 {
				lines = append(lines, text[:76])
				text = text[76:]
			}
			changed = strings.Join(append(lines, text), "\r\n")
		}
		t.Run(p.String(), func(t *testing.T) {
			if _, err := openBody(p, withField(t, body, encFieldOf(p), quoteJSON(changed)), false, server); err != nil {
				t.Errorf("open: %v", err)
			}
		})
	}
}

func TestOpenBadAsymmetricCiphertext(t *testing.T) {
	for _, enc := range []EncType{EncRSA, EncPKCS7} {
		for _, p := range allProfiles {
			s := suite{p, SignMD5, enc}
			client, server := suiteKeys(t, s)
			body := seal(t, s, client, false)
			ct := ciphertextOf(t, p, body)
			bad := map[string][]byte{
				"truncated": ct[:len(ct)-1],
				"half":      ct[:len(ct)/2],
				"garbage":   bytes.Repeat([]byte{0x30}, 64),
				"tiny":      {0x30, 0x00},
			}
			for name, ciphertext := range bad {
				t.Run(s.String()+"/"+name, func(t *testing.T) {
					_, err := openBody(p, withCiphertext(t, p, body, ciphertext), false, server)
					wantCode(t, err, CodeDecryptFailed)
				})
			}
		}
	}
}

// TestOpenEncryptedWithoutCipher sends a ciphertext to a channel in clear,
// which has no key to decrypt it.
func TestOpenEncryptedWithoutCipher(t *testing.T) {
	s := suite{ProfileFJS, SignMD5, EncSM4}
	client, _ := suiteKeys(t, s)
	_, clearServer := suiteKeys(t, suite{ProfileFJS, SignMD5, EncNone})
	_, err := openBody(ProfileFJS, seal(t, s, client, false), false, clearServer)
	wantCode(t, err, CodeDecryptFailed)
}

// TestBase64AgreesWithEncodingBase64 compares the vector base64 codec with
// encoding/base64 on ciphertexts of every length up to 400 bytes, and on
// texts broken at a random place. The vector loop stops at the block that
// contains the break, and encoding/base64 must then return the same result.
func TestBase64AgreesWithEncodingBase64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	breaks := []string{"\n", "\r\n", "=", "==", "!", "-", "_", " ", "\x80", "\"", "A", ""}
	for size := range 400 {
		ciphertext := make([]byte, size)
		for i := range ciphertext {
			ciphertext[i] = byte(rng.Uint32())
		}
		want := base64.StdEncoding.EncodeToString(ciphertext)
		got := ProfileFJS.appendCiphertextText([]byte("prefix"), ciphertext)
		if string(got) != "prefix"+want {
			t.Fatalf("%d bytes encode to %q, want %q", size, got[len("prefix"):], want)
		}
		checkBase64(t, want)
		if size == 0 {
			continue
		}
		at := rng.IntN(len(want))
		for _, b := range breaks {
			checkBase64(t, want[:at]+b+want[at:])   // inserted
			checkBase64(t, want[:at]+b+want[at+1:]) // replaced
		}
		checkBase64(t, want[:at]) // truncated
	}
}

// checkBase64 decodes text with fastBase64 and with strictBase64 and fails
// unless both accept it with the same bytes or both reject it, with the
// same error from appendCiphertext.
func checkBase64(t *testing.T, text string) {
	t.Helper()
	fast := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, fastErr := fastBase64.Decode(fast, []byte(text))
	std, stdErr := strictBase64.DecodeString(text)
	if (fastErr == nil) != (stdErr == nil) {
		t.Fatalf("%q: vector decoder returned %v, encoding/base64 %v", text, fastErr, stdErr)
	}
	if stdErr == nil && !bytes.Equal(fast[:n], std) {
		t.Fatalf("%q decodes to %x, want %x", text, fast[:n], std)
	}
	_, err := ProfileFJS.appendCiphertext(nil, member{value: []byte(`"` + text + `"`)})
	if stdErr != nil && (err == nil || !strings.HasSuffix(err.Error(), ": "+stdErr.Error())) {
		t.Fatalf("%q: error %v, want one ending in %v", text, err, stdErr)
	}
}
