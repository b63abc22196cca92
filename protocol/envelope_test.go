package protocol

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/go-json-experiment/json/jsontext"
)

// party is the key material of one end of a test channel.
type party struct {
	sm2  *sm2.PrivateKey
	rsa  *rsa.PrivateKey
	cert *smx509.Certificate // self-signed over the SM2 key, for EncPKCS7
}

type testParties struct {
	client, server, stranger *party
}

// The SM2 scalars are fixed so that a failure reproduces. The RSA keys are
// generated once per run because generating them is slow.
var loadParties = sync.OnceValues(func() (*testParties, error) {
	client, err := newParty("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 1)
	if err != nil {
		return nil, err
	}
	server, err := newParty("128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263", 2)
	if err != nil {
		return nil, err
	}
	stranger, err := newParty("6F2A1B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8", 3)
	if err != nil {
		return nil, err
	}
	return &testParties{client, server, stranger}, nil
})

func newParty(sm2Scalar string, serial int64) (*party, error) {
	raw, err := hex.DecodeString(sm2Scalar)
	if err != nil {
		return nil, err
	}
	sm2Key, err := sm2.NewPrivateKey(raw)
	if err != nil {
		return nil, err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	cert, err := selfSignedCert(sm2Key, serial)
	if err != nil {
		return nil, err
	}
	return &party{sm2: sm2Key, rsa: rsaKey, cert: cert}, nil
}

func selfSignedCert(key *sm2.PrivateKey, serial int64) (*smx509.Certificate, error) {
	template := &smx509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("chsgate test %d", serial)},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2044, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     smx509.KeyUsageDigitalSignature | smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment,
	}
	der, err := smx509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return smx509.ParseCertificate(der)
}

func parties(t testing.TB) *testParties {
	t.Helper()
	p, err := loadParties()
	if err != nil {
		t.Fatalf("build test keys: %v", err)
	}
	return p
}

// channel contains what both ends of a test channel share. The values are
// those of the platform's published examples, with the fjs salt derivation
// and the hsa appid derivation.
type channel struct {
	appID, appSecret, signKey, salt string
	derivation                      KeyDerivation
}

func testChannel(p Profile) channel {
	if p == ProfileHSA {
		return channel{
			appID:      "43AF047BBA47FC8A1AE8EFB232BDBBCB",
			appSecret:  "4117E877F5FA0A0188891283E4B617D5",
			signKey:    "4117E877F5FA0A0188891283E4B617D5",
			derivation: DeriveAppID,
		}
	}
	return channel{
		appID:      "ldxt",
		appSecret:  "67b082f9d58045619a4ef05147b87659",
		signKey:    "testkey",
		salt:       "f2313d85601342b8b15c872286c6aaff",
		derivation: DeriveSalt,
	}
}

// suite is one combination of profile, sign type and enc type.
type suite struct {
	profile Profile
	sign    SignType
	enc     EncType
}

func (s suite) String() string {
	enc := string(s.enc)
	if enc == "" {
		enc = "none"
	}
	return s.profile.String() + "/" + string(s.sign) + "/" + enc
}

var (
	allProfiles  = []Profile{ProfileFJS, ProfileHSA}
	allSignTypes = []SignType{SignMD5, SignSM3, SignSM2, SignRSA}
	allEncTypes  = []EncType{EncSM4, EncAES, EncNone, EncRSA, EncPKCS7}
)

func allSuites() []suite {
	var out []suite
	for _, p := range allProfiles {
		for _, s := range allSignTypes {
			for _, e := range allEncTypes {
				out = append(out, suite{p, s, e})
			}
		}
	}
	return out
}

// keyConfig returns the configuration of own's end of suite s, whose other
// end is peer. Both ends get every key, and NewKeys picks what s needs.
func keyConfig(s suite, own, peer *party) KeyConfig {
	c := testChannel(s.profile)
	return KeyConfig{
		SignType:      s.sign,
		SignKey:       c.signKey,
		SM2PrivateKey: own.sm2,
		SM2PublicKey:  &peer.sm2.PublicKey,
		RSAPrivateKey: own.rsa,
		RSAPublicKey:  &peer.rsa.PublicKey,
		EncType:       s.enc,
		Derivation:    c.derivation,
		Secrets:       ChannelSecrets{AppID: c.appID, AppSecret: c.appSecret, Salt: c.salt},
		PKCS7Peer:     peer.cert,
		PKCS7Cert:     own.cert,
		PKCS7Key:      own.sm2,
	}
}

// endConfigs returns the configurations of the client and the server end
// of suite s.
func endConfigs(t testing.TB, s suite) (client, server KeyConfig) {
	ps := parties(t)
	return keyConfig(s, ps.client, ps.server), keyConfig(s, ps.server, ps.client)
}

func mustKeys(t testing.TB, c KeyConfig) *Keys {
	t.Helper()
	k, err := NewKeys(c)
	if err != nil {
		t.Fatalf("NewKeys(%s/%s): %v", c.SignType, c.EncType, err)
	}
	return k
}

// suiteKeys returns the keys of the client and the server end of suite s.
func suiteKeys(t testing.TB, s suite) (client, server *Keys) {
	t.Helper()
	cc, sc := endConfigs(t, s)
	return mustKeys(t, cc), mustKeys(t, sc)
}

// testNow is the clock of every test message: 2023-11-14 22:13:20 UTC.
var testNow = time.UnixMilli(1700000000000)

const testFunID = "CI00.02.00.01"

// payMarker appears once in each test payload, so a test can change one
// business value by changing one byte of it.
const payMarker = "P202401010001"

// requestPayload has nested objects, an array of persons, HTML characters,
// Chinese, number literals and empty values. Its compact form is longer
// than one RSA-2048 block, so EncRSA splits it.
const requestPayload = `{
  "org_code": "ORG001",
  "hi_pay_no": "P202401010001",
  "medfee_sumamt": "12.30",
  "count": 2,
  "remark": "",
  "paylist": [
    {"name": "王二", "cert_type": "01", "idcard": "350582199711193519", "amt": "12.30", "seq": 1},
    {"name": "A&B <co>", "cert_type": "01", "idcard": "350181199011193519", "amt": "0.00", "note": ""}
  ]
}`

const requestPaylistSigned = `[{"amt":"12.30","cert_type":"01","idcard":"350582199711193519","name":"王二","seq":"1"},` +
	`{"amt":"0.00","cert_type":"01","idcard":"350181199011193519","name":"A&B <co>"}]`

const responsePayload = `{"pay_result": "1", "hi_pay_no": "P202401010001", "acct_pay": 1.50, "settled": true, "fail_msg": null}`

const responseDataSigned = `{"acct_pay":"1.50","hi_pay_no":"P202401010001","pay_result":"1","settled":"true"}`

func testRequest(p Profile) *Request {
	c := testChannel(p)
	return &Request{
		AppID:     c.appID,
		AppSecret: c.appSecret,
		FunID:     testFunID,
		Timestamp: p.FormatTimestamp(testNow),
		Payload:   []byte(requestPayload),
	}
}

func testResponse(p Profile) *Response {
	return &Response{Code: CodeOK, Timestamp: p.FormatTimestamp(testNow), Payload: []byte(responsePayload)}
}

// wantSignString returns the sign string of the test request or response
// of suite s, written out from the rules rather than computed by the
// package.
func wantSignString(s suite, response bool) string {
	c := testChannel(s.profile)
	ts := s.profile.FormatTimestamp(testNow)
	if s.profile == ProfileFJS {
		if response {
			return "chs_fjs_timestamp=" + ts + "&code=0&data=" + responseDataSigned + "&message=成功&type=success&key=" + c.signKey
		}
		return "chs_fjs_appid=" + c.appID + "&chs_fjs_appsecret=" + c.appSecret + "&chs_fjs_funid=" + testFunID +
			"&chs_fjs_timestamp=" + ts + "&count=2&hi_pay_no=P202401010001&medfee_sumamt=12.30&org_code=ORG001" +
			"&paylist=" + requestPaylistSigned + "&key=" + c.signKey
	}
	var parts []string
	if response {
		parts = append(parts, "data="+responseDataSigned)
	} else {
		parts = append(parts, "appId="+c.appID,
			`data={"count":"2","hi_pay_no":"P202401010001","medfee_sumamt":"12.30","org_code":"ORG001","paylist":`+requestPaylistSigned+`}`)
	}
	if s.enc != EncNone {
		parts = append(parts, "encType="+string(s.enc))
	}
	if response {
		parts = append(parts, "respCode=0", "respMsg=成功")
	}
	parts = append(parts, "signType="+string(s.sign), "timestamp="+ts)
	if !response {
		parts = append(parts, "transType="+testFunID, "version=1.0.0")
	}
	parts = append(parts, "key="+c.signKey)
	return strings.Join(parts, "&")
}

func signFieldOf(p Profile) string {
	if p == ProfileHSA {
		return FieldHSASignData
	}
	return FieldFJSSign
}

func encFieldOf(p Profile) string {
	if p == ProfileHSA {
		return FieldHSAEncData
	}
	return FieldFJSEncData
}

// seal builds the test request (or response) of suite s, sealed with k.
func seal(t testing.TB, s suite, k *Keys, response bool) []byte {
	t.Helper()
	var body []byte
	var err error
	if response {
		body, err = s.profile.SealResponse(k, testResponse(s.profile))
	} else {
		body, err = s.profile.SealRequest(k, testRequest(s.profile))
	}
	if err != nil {
		t.Fatalf("seal %s: %v", s, err)
	}
	return body
}

// openBody decodes body as a request or a response of p and opens it with k.
func openBody(p Profile, body []byte, response bool, k *Keys) (*Opened, error) {
	decode := p.DecodeRequest
	if response {
		decode = p.DecodeResponse
	}
	env, err := decode(body)
	if err != nil {
		return nil, err
	}
	opened, err := env.OpenWithDigest(k)
	// Open must agree with OpenWithDigest on everything but the digest.
	plain, plainErr := env.Open(k)
	if (err == nil) != (plainErr == nil) || err != nil && err.Error() != plainErr.Error() {
		return nil, fmt.Errorf("OpenWithDigest returned %v, Open %v", err, plainErr)
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(plain.Payload, opened.Payload) || !bytes.Equal(plain.Plaintext(), opened.Plaintext()) {
		return nil, fmt.Errorf("Open and OpenWithDigest opened different messages: %s and %s", plain.Plaintext(), opened.Plaintext())
	}
	if plain.SignDigest != ([32]byte{}) {
		return nil, errors.New("Open set SignDigest")
	}
	return opened, nil
}

// wantCode fails t unless err is a *Error that carries code.
func wantCode(t testing.TB, err error, code int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error = %v, want a *Error with code %d", err, code)
		return
	}
	if e.Code != code {
		t.Errorf("code = %d (%v), want %d", e.Code, err, code)
	}
}

// wantMessage fails t unless err is a *Error whose Message is message.
func wantMessage(t testing.TB, err error, message string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error = %v, want a *Error with message %s", err, message)
		return
	}
	if e.Message != message {
		t.Errorf("message = %s, want %s", e.Message, message)
	}
}

func compactJSON(t testing.TB, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("compact %s: %v", b, err)
	}
	return out.String()
}

// rawMember is one member of a JSON object: its unquoted name and its raw
// value.
type rawMember struct {
	name, value string
}

func splitMembers(t testing.TB, body []byte) []rawMember {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		t.Fatalf("body is not a JSON object: %s", body)
	}
	var out []rawMember
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			t.Fatalf("read member name of %s: %v", body, err)
		}
		name := tok.String()
		value, err := dec.ReadValue()
		if err != nil {
			t.Fatalf("read member %s of %s: %v", name, body, err)
		}
		out = append(out, rawMember{name, string(value)})
	}
	return out
}

func joinMembers(members []rawMember) []byte {
	var b []byte
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = jsontext.AppendQuote(b, m.name)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}

// withField returns body with member name set to the raw JSON value, added
// at the end when absent.
func withField(t testing.TB, body []byte, name, value string) []byte {
	t.Helper()
	members := splitMembers(t, body)
	for i := range members {
		if members[i].name == name {
			members[i].value = value
			return joinMembers(members)
		}
	}
	return joinMembers(append(members, rawMember{name, value}))
}

// withoutField returns body without member name.
func withoutField(t testing.TB, body []byte, name string) []byte {
	t.Helper()
	var kept []rawMember
	for _, m := range splitMembers(t, body) {
		if m.name != name {
			kept = append(kept, m)
		}
	}
	return joinMembers(kept)
}

// fieldString returns the string value of member name of body.
func fieldString(t testing.TB, body []byte, name string) string {
	t.Helper()
	for _, m := range splitMembers(t, body) {
		if m.name == name {
			var s string
			if err := json.Unmarshal([]byte(m.value), &s); err != nil {
				t.Fatalf("member %s = %s, want a string", name, m.value)
			}
			return s
		}
	}
	t.Fatalf("body has no member %s: %s", name, body)
	return ""
}

func quoteJSON(s string) string {
	b, _ := jsontext.AppendQuote(nil, s)
	return string(b)
}

// encodeCiphertext writes ciphertext as profile p sends it, with the
// standard library: base64 for fjs, upper-case hex for hsa.
func encodeCiphertext(p Profile, ciphertext []byte) string {
	if p == ProfileHSA {
		return strings.ToUpper(hex.EncodeToString(ciphertext))
	}
	return base64.StdEncoding.EncodeToString(ciphertext)
}

func ciphertextOf(t testing.TB, p Profile, body []byte) []byte {
	t.Helper()
	text := fieldString(t, body, encFieldOf(p))
	var ct []byte
	var err error
	if p == ProfileHSA {
		ct, err = hex.DecodeString(text)
	} else {
		ct, err = base64.StdEncoding.DecodeString(text)
	}
	if err != nil {
		t.Fatalf("ciphertext text %q: %v", text, err)
	}
	return ct
}

func withCiphertext(t testing.TB, p Profile, body, ciphertext []byte) []byte {
	t.Helper()
	return withField(t, body, encFieldOf(p), quoteJSON(encodeCiphertext(p, ciphertext)))
}

func TestRoundTrip(t *testing.T) {
	for _, s := range allSuites() {
		t.Run(s.String(), func(t *testing.T) {
			client, server := suiteKeys(t, s)
			t.Run("request", func(t *testing.T) {
				checkRoundTrip(t, s, client, server, false)
			})
			t.Run("response", func(t *testing.T) {
				checkRoundTrip(t, s, server, client, true)
			})
		})
	}
}

func checkRoundTrip(t *testing.T, s suite, sender, receiver *Keys, response bool) {
	p := s.profile
	body := seal(t, s, sender, response)

	encrypted := bytes.Contains(body, []byte(`"`+encFieldOf(p)+`"`))
	if encrypted != (s.enc != EncNone) {
		t.Errorf("body has %s: %v, want %v: %s", encFieldOf(p), encrypted, s.enc != EncNone, body)
	}
	inClear := bytes.Contains(body, []byte(payMarker))
	if inClear != (s.enc == EncNone) {
		t.Errorf("business value in clear: %v, want %v: %s", inClear, s.enc == EncNone, body)
	}

	decode := p.DecodeRequest
	if response {
		decode = p.DecodeResponse
	}
	env, err := decode(body)
	if err != nil {
		t.Fatalf("decode: %v\nbody: %s", err, body)
	}
	if response {
		if env.Code != CodeOK {
			t.Errorf("Code = %d, want 0", env.Code)
		}
		if env.Message != "成功" {
			t.Errorf("Message = %q, want 成功", env.Message)
		}
	} else {
		c := testChannel(p)
		if env.AppID != c.appID {
			t.Errorf("AppID = %q, want %q", env.AppID, c.appID)
		}
		if env.FunID != testFunID {
			t.Errorf("FunID = %q, want %q", env.FunID, testFunID)
		}
	}
	if want := p.FormatTimestamp(testNow); env.Timestamp != want {
		t.Errorf("Timestamp = %q, want %q", env.Timestamp, want)
	}
	if p == ProfileHSA {
		if env.SignType != string(s.sign) {
			t.Errorf("SignType = %q, want %q", env.SignType, s.sign)
		}
		if env.EncType != string(s.enc) {
			t.Errorf("EncType = %q, want %q", env.EncType, s.enc)
		}
	}

	opened, err := env.OpenWithDigest(receiver)
	if err != nil {
		t.Fatalf("open: %v\nbody: %s", err, body)
	}
	sealed := requestPayload
	if response {
		sealed = responsePayload
	}
	if got, want := compactJSON(t, opened.Payload), compactJSON(t, []byte(sealed)); got != want {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
	signString := wantSignString(s, response)
	if opened.SignDigest != replayDigest(signString) {
		t.Errorf("SignDigest = %x, want SHA-256 of the part before key= of\n%s", opened.SignDigest, signString)
	}
}

// TestRoundTripDefaults seals with an empty Version and Message, which the
// package fills in.
func TestRoundTripDefaults(t *testing.T) {
	client, server := suiteKeys(t, suite{ProfileHSA, SignMD5, EncNone})
	req := testRequest(ProfileHSA)
	req.Version = ""
	body, err := ProfileHSA.SealRequest(client, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldString(t, body, FieldHSAVersion); got != "1.0.0" {
		t.Errorf("version = %q, want 1.0.0", got)
	}

	resp := &Response{Code: CodeOrderNotFound, Timestamp: "20231115061320000"}
	body, err = ProfileHSA.SealResponse(server, resp)
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldString(t, body, FieldHSARespMsg); got != "订单【】不存在" {
		t.Errorf("respMsg = %q, want 订单【】不存在", got)
	}
	if got := fieldString(t, body, FieldHSARespCode); got != "20014" {
		t.Errorf("respCode = %q, want 20014", got)
	}
}

// tamperCase changes a sealed body, or the receiver's keys, in one way.
type tamperCase struct {
	name string
	when func(s suite) bool
	// body, when set, returns the changed body.
	body func(t *testing.T, s suite, body []byte, sender, receiver *Keys) []byte
	// keys, when set, changes the receiver's configuration.
	keys func(s suite, c *KeyConfig, stranger *party)
	code int
}

func always(suite) bool           { return true }
func encrypting(s suite) bool     { return s.enc != EncNone }
func asymmetricSign(s suite) bool { return s.sign == SignSM2 || s.sign == SignRSA }

var tamperCases = []tamperCase{
	{name: "value", when: always, body: flipBusinessValue, code: CodeBadSignature},
	{name: "signature", when: always, body: flipSignature, code: CodeBadSignature},
	{name: "ciphertext", when: encrypting, body: flipCiphertext, code: CodeDecryptFailed},
	{name: "signkey", when: always, keys: func(_ suite, c *KeyConfig, _ *party) { c.SignKey = "wrongkey" }, code: CodeBadSignature},
	{name: "peerkey", when: asymmetricSign, keys: usePeerKey, code: CodeBadSignature},
	{name: "datakey", when: encrypting, keys: useOtherDataKey, code: CodeDecryptFailed},
}

// flipBusinessValue changes one byte of a business value. For an encrypted
// message it re-encrypts the changed plaintext with the channel's own
// cipher, as a holder of the data key but not of the sign key could.
func flipBusinessValue(t *testing.T, s suite, body []byte, sender, receiver *Keys) []byte {
	const changed = "P202401010000"
	if s.enc == EncNone {
		out := bytes.Replace(body, []byte(payMarker), []byte(changed), 1)
		if bytes.Equal(out, body) {
			t.Fatalf("body has no %s: %s", payMarker, body)
		}
		return out
	}
	plain, err := receiver.Cipher.Decrypt(ciphertextOf(t, s.profile, body))
	if err != nil {
		t.Fatalf("decrypt the sealed body: %v", err)
	}
	plain = bytes.Replace(plain, []byte(payMarker), []byte(changed), 1)
	ciphertext, err := sender.Cipher.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	return withCiphertext(t, s.profile, body, ciphertext)
}

// flipSignature changes one byte of the decoded signature and encodes it
// again, so the text stays well-formed.
func flipSignature(t *testing.T, s suite, body []byte, _, _ *Keys) []byte {
	field := signFieldOf(s.profile)
	text := fieldString(t, body, field)
	var flipped string
	if s.sign == SignMD5 || s.sign == SignSM3 {
		raw, err := hex.DecodeString(text)
		if err != nil {
			t.Fatalf("%s %q is not hex", field, text)
		}
		raw[0] ^= 1
		flipped = strings.ToUpper(hex.EncodeToString(raw))
	} else {
		raw, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			t.Fatalf("%s %q is not base64", field, text)
		}
		raw[0] ^= 1
		flipped = base64.StdEncoding.EncodeToString(raw)
	}
	return withField(t, body, field, quoteJSON(flipped))
}

// flipCiphertext changes the last ciphertext byte, which every enc type
// spends on the end of the payload.
func flipCiphertext(t *testing.T, s suite, body []byte, _, _ *Keys) []byte {
	ct := ciphertextOf(t, s.profile, body)
	ct[len(ct)-1] ^= 1
	return withCiphertext(t, s.profile, body, ct)
}

func usePeerKey(s suite, c *KeyConfig, stranger *party) {
	c.SM2PublicKey = &stranger.sm2.PublicKey
	c.RSAPublicKey = &stranger.rsa.PublicKey
}

// useOtherDataKey gives the receiver another salt (fjs) or appId (hsa), or
// another private key for the asymmetric enc types.
func useOtherDataKey(s suite, c *KeyConfig, stranger *party) {
	switch s.enc {
	case EncSM4, EncAES:
		if s.profile == ProfileHSA {
			c.Secrets.AppID = "0000000000000000FC8A1AE8EFB232BD"
		} else {
			c.Secrets.Salt = "0123456789abcdef0123456789abcdef"
		}
	case EncRSA:
		c.RSAPrivateKey = stranger.rsa
	case EncPKCS7:
		c.PKCS7Cert = stranger.cert
		c.PKCS7Key = stranger.sm2
	}
}

func TestOpenTampered(t *testing.T) {
	stranger := parties(t).stranger
	for _, s := range allSuites() {
		for _, response := range []bool{false, true} {
			name := s.String() + "/request"
			if response {
				name = s.String() + "/response"
			}
			t.Run(name, func(t *testing.T) {
				clientConfig, serverConfig := endConfigs(t, s)
				senderConfig, receiverConfig := clientConfig, serverConfig
				if response {
					senderConfig, receiverConfig = serverConfig, clientConfig
				}
				sender, receiver := mustKeys(t, senderConfig), mustKeys(t, receiverConfig)
				body := seal(t, s, sender, response)
				if _, err := openBody(s.profile, body, response, receiver); err != nil {
					t.Fatalf("untouched body does not open: %v", err)
				}

				for _, tc := range tamperCases {
					if !tc.when(s) {
						continue
					}
					t.Run(tc.name, func(t *testing.T) {
						changed, keys := body, receiver
						if tc.body != nil {
							changed = tc.body(t, s, body, sender, receiver)
						}
						if tc.keys != nil {
							c := receiverConfig
							tc.keys(s, &c, stranger)
							keys = mustKeys(t, c)
						}
						_, err := openBody(s.profile, changed, response, keys)
						wantCode(t, err, tc.code)
					})
				}
			})
		}
	}
}

// suiteEnds are the keys of both ends of a suite.
type suiteEnds struct{ client, server *Keys }

// concurrencySuites returns the suites that the concurrency tests cycle
// through, one per profile and cipher kind, with the keys of both ends.
func concurrencySuites(t *testing.T) ([]suite, []suiteEnds) {
	t.Helper()
	suites := []suite{
		{ProfileFJS, SignSM3, EncSM4},
		{ProfileHSA, SignMD5, EncAES},
		{ProfileFJS, SignMD5, EncNone},
		{ProfileHSA, SignSM3, EncNone},
	}
	ends := make([]suiteEnds, len(suites))
	for i, s := range suites {
		ends[i].client, ends[i].server = suiteKeys(t, s)
	}
	return suites, ends
}

// TestConcurrentRoundTrip seals and opens from several goroutines at once,
// because sealing and opening reuse pooled buffers.
func TestConcurrentRoundTrip(t *testing.T) {
	suites, ends := concurrencySuites(t)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 200 {
				i := (g + n) % len(suites)
				s := suites[i]
				response := n%2 == 1
				sender, receiver := ends[i].client, ends[i].server
				sealPayload := requestPayload
				var body []byte
				var err error
				if response {
					sender, receiver, sealPayload = receiver, sender, responsePayload
					body, err = s.profile.SealResponse(sender, testResponse(s.profile))
				} else {
					body, err = s.profile.SealRequest(sender, testRequest(s.profile))
				}
				if err != nil {
					errs <- fmt.Errorf("%s: seal: %w", s, err)
					return
				}
				opened, err := openBody(s.profile, body, response, receiver)
				if err != nil {
					errs <- fmt.Errorf("%s: open: %w", s, err)
					return
				}
				var got, want bytes.Buffer
				if err := json.Compact(&got, opened.Payload); err != nil {
					errs <- fmt.Errorf("%s: payload %s: %w", s, opened.Payload, err)
					return
				}
				_ = json.Compact(&want, []byte(sealPayload))
				if got.String() != want.String() {
					errs <- fmt.Errorf("%s: payload %s, want %s", s, got.Bytes(), want.Bytes())
					return
				}
				if opened.SignDigest != replayDigest(wantSignString(s, response)) {
					errs <- fmt.Errorf("%s: SignDigest differs from the expected sign string", s)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSignDigestIgnoresEncoding re-encodes the signature in lower-case hex:
// the message still opens and its replay key stays the same.
func TestSignDigestIgnoresEncoding(t *testing.T) {
	s := suite{ProfileFJS, SignSM3, EncSM4}
	client, server := suiteKeys(t, s)
	body := seal(t, s, client, false)
	first, err := openBody(s.profile, body, false, server)
	if err != nil {
		t.Fatal(err)
	}

	lower := strings.ToLower(fieldString(t, body, FieldFJSSign))
	second, err := openBody(s.profile, withField(t, body, FieldFJSSign, quoteJSON(lower)), false, server)
	if err != nil {
		t.Fatalf("open with a lower-case signature: %v", err)
	}
	if second.SignDigest != first.SignDigest {
		t.Errorf("SignDigest changed with the signature's case: %x, then %x", first.SignDigest, second.SignDigest)
	}
}

// fjsBody is an fjs request with every protocol field and one business
// field. Its signature is not checked by DecodeRequest.
const fjsBody = `{"chs_fjs_appid":"ldxt","chs_fjs_appsecret":"67b082f9d58045619a4ef05147b87659",` +
	`"chs_fjs_funid":"CI00.02.00.01","chs_fjs_timestamp":"1700000000000","org_code":"ORG001",` +
	`"chs_fjs_sign":"37A299CF9B627EABB920D3314324031B"}`

const hsaBody = `{"appId":"43AF047BBA47FC8A1AE8EFB232BDBBCB","transType":"CI00.02.00.01",` +
	`"timestamp":"20231115061320000","version":"1.0.0","signType":"MD5","data":{"org_code":"ORG001"},` +
	`"signData":"37A299CF9B627EABB920D3314324031B"}`

const fjsResponseBody = `{"code":0,"type":"success","message":"成功","chs_fjs_timestamp":"1700000000000",` +
	`"data":{"pay_result":"1"},"chs_fjs_sign":"37A299CF9B627EABB920D3314324031B"}`

const hsaResponseBody = `{"respCode":"0","respMsg":"成功","timestamp":"20231115061320000","signType":"MD5",` +
	`"data":{"pay_result":"1"},"signData":"37A299CF9B627EABB920D3314324031B"}`

func TestDecodeBaseBodies(t *testing.T) {
	if _, err := ProfileFJS.DecodeRequest([]byte(fjsBody)); err != nil {
		t.Errorf("fjs request: %v", err)
	}
	if _, err := ProfileHSA.DecodeRequest([]byte(hsaBody)); err != nil {
		t.Errorf("hsa request: %v", err)
	}
	if _, err := ProfileFJS.DecodeResponse([]byte(fjsResponseBody)); err != nil {
		t.Errorf("fjs response: %v", err)
	}
	if _, err := ProfileHSA.DecodeResponse([]byte(hsaResponseBody)); err != nil {
		t.Errorf("hsa response: %v", err)
	}
}

// receive decodes and opens body as the gateway does, with the keys of an
// MD5 channel in clear, so a malformed body fails whichever step notices.
func receive(t testing.TB, p Profile, body []byte, response bool) error {
	t.Helper()
	client, server := suiteKeys(t, suite{p, SignMD5, EncNone})
	k := server
	if response {
		k = client
	}
	_, err := openBody(p, body, response, k)
	return err
}

func TestDecodeMalformed(t *testing.T) {
	fjs := fjsBody
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"space", "  \n"},
		{"array", "[" + fjs + "]"},
		{"string", `"chs_fjs_appid"`},
		{"number", "1"},
		{"null", "null"},
		{"truncated", fjs[:len(fjs)-1]},
		{"trailing object", fjs + "{}"},
		{"trailing text", fjs + " x"},
		{"trailing bracket", fjs + "]"},
		{"trailing comma", strings.TrimSuffix(fjs, "}") + ",}"},
		{"duplicate protocol", `{"chs_fjs_appid":"other",` + fjs[1:]},
		{"duplicate timestamp", `{"chs_fjs_timestamp":1700000000000,` + fjs[1:]},
		{"duplicate sign", `{"chs_fjs_sign":"00",` + fjs[1:]},
		{"duplicate business", `{"org_code":"ORG002",` + fjs[1:]},
		{"duplicate empty", `{"org_code":"",` + fjs[1:]},
		{"duplicate escaped", `{"\u006frg_code":"ORG002",` + fjs[1:]},
		{"duplicate nested", `{"paylist":[{"name":"a","name":"b"}],` + fjs[1:]},
		{"duplicate nested escaped", `{"person":{"name":"a","n\u0061me":"b"},` + fjs[1:]},
		{"invalid utf8 value", `{"org_name":"ORG` + "\xff" + `",` + fjs[1:]},
		{"invalid utf8 name", `{"org` + "\xff" + `":"1",` + fjs[1:]},
		{"invalid utf8 nested", `{"person":{"name":"` + "\xe7\x8e" + `"},` + fjs[1:]},
		{"overlong utf8", `{"name":"` + "\xc0\xaf" + `",` + fjs[1:]},
		{"gbk chinese", `{"name":"` + "\xcd\xf5\xb6\xfe" + `",` + fjs[1:]},
		{"control character", `{"name":"a` + "\x01" + `b",` + fjs[1:]},
		{"bad escape", `{"name":"a\qb",` + fjs[1:]},
		{"byte order mark", "\xef\xbb\xbf" + fjs},
		{"single quotes", `{'chs_fjs_appid':'ldxt'}`},
		{"comment", "/* x */" + fjs},
		{"leading zero", `{"count":01,` + fjs[1:]},
		{"bare word", `{"flag":True,` + fjs[1:]},
		{"deep arrays", `{"deep":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "," + fjs[1:]},
		{"deep objects", `{"deep":` + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000) + "," + fjs[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, receive(t, ProfileFJS, []byte(tt.body), false), CodeMalformed)
		})
	}
}

func TestDecodeMalformedShapes(t *testing.T) {
	tests := []struct {
		name     string
		profile  Profile
		response bool
		body     string
	}{
		{"hsa array", ProfileHSA, false, "[" + hsaBody + "]"},
		{"hsa trailing", ProfileHSA, false, hsaBody + "{}"},
		{"hsa duplicate data", ProfileHSA, false, `{"data":{},` + hsaBody[1:]},
		{"hsa duplicate in data", ProfileHSA, false, strings.Replace(hsaBody, `{"org_code":"ORG001"}`, `{"org_code":"ORG001","org_code":"X"}`, 1)},
		{"hsa invalid utf8", ProfileHSA, false, `{"x":"` + "\xc3" + `",` + hsaBody[1:]},
		{"hsa appId appCode differ", ProfileHSA, false, `{"appCode":"OTHER",` + hsaBody[1:]},
		{"fjs response array", ProfileFJS, true, "[" + fjsResponseBody + "]"},
		{"fjs response trailing", ProfileFJS, true, fjsResponseBody + "x"},
		{"fjs response duplicate code", ProfileFJS, true, `{"code":20014,` + fjsResponseBody[1:]},
		{"hsa response duplicate", ProfileHSA, true, `{"respCode":"1",` + hsaResponseBody[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, receive(t, tt.profile, []byte(tt.body), tt.response), CodeMalformed)
		})
	}
}

func TestDecodeWrongType(t *testing.T) {
	tests := []struct {
		name     string
		profile  Profile
		response bool
		field    string
		value    string
	}{
		{"fjs appid number", ProfileFJS, false, FieldFJSAppID, `1`},
		{"fjs appid bool", ProfileFJS, false, FieldFJSAppID, `true`},
		{"fjs appid object", ProfileFJS, false, FieldFJSAppID, `{"id":"ldxt"}`},
		{"fjs appsecret number", ProfileFJS, false, FieldFJSAppSecret, `123`},
		{"fjs token array", ProfileFJS, false, FieldFJSToken, `["t"]`},
		{"fjs funid number", ProfileFJS, false, FieldFJSFunID, `1.02`},
		{"fjs timestamp bool", ProfileFJS, false, FieldFJSTimestamp, `true`},
		{"fjs timestamp object", ProfileFJS, false, FieldFJSTimestamp, `{}`},
		{"fjs timestamp array", ProfileFJS, false, FieldFJSTimestamp, `[1700000000000]`},
		{"fjs sign number", ProfileFJS, false, FieldFJSSign, `37`},
		{"fjs sign array", ProfileFJS, false, FieldFJSSign, `["37A2"]`},
		{"fjs encdata number", ProfileFJS, false, FieldFJSEncData, `0`},
		{"fjs encdata object", ProfileFJS, false, FieldFJSEncData, `{"a":"b"}`},
		{"hsa appId number", ProfileHSA, false, FieldHSAAppID, `43`},
		{"hsa appCode bool", ProfileHSA, false, FieldHSAAppCode, `false`},
		{"hsa transType number", ProfileHSA, false, FieldHSATransType, `1`},
		{"hsa timestamp bool", ProfileHSA, false, FieldHSATimestamp, `true`},
		{"hsa version number", ProfileHSA, false, FieldHSAVersion, `1.0`},
		{"hsa signType number", ProfileHSA, false, FieldHSASignType, `2`},
		{"hsa encType bool", ProfileHSA, false, FieldHSAEncType, `true`},
		{"hsa signData number", ProfileHSA, false, FieldHSASignData, `1`},
		{"hsa encData array", ProfileHSA, false, FieldHSAEncData, `["AA"]`},
		{"fjs code text", ProfileFJS, true, "code", `"abc"`},
		{"fjs code fraction", ProfileFJS, true, "code", `0.5`},
		{"fjs code bool", ProfileFJS, true, "code", `true`},
		{"fjs message number", ProfileFJS, true, "message", `0`},
		{"fjs response timestamp bool", ProfileFJS, true, FieldFJSTimestamp, `false`},
		{"hsa respCode text", ProfileHSA, true, FieldHSARespCode, `"ok"`},
		{"hsa respMsg number", ProfileHSA, true, FieldHSARespMsg, `0`},
		{"hsa response signType number", ProfileHSA, true, FieldHSASignType, `1`},
	}
	bodies := map[bool]map[Profile]string{
		false: {ProfileFJS: fjsBody, ProfileHSA: hsaBody},
		true:  {ProfileFJS: fjsResponseBody, ProfileHSA: hsaResponseBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := withField(t, []byte(bodies[tt.response][tt.profile]), tt.field, tt.value)
			decode := tt.profile.DecodeRequest
			if tt.response {
				decode = tt.profile.DecodeResponse
			}
			_, err := decode(body)
			wantCode(t, err, CodeMalformed)
		})
	}
}

func TestDecodeMissing(t *testing.T) {
	tests := []struct {
		name     string
		profile  Profile
		response bool
		field    string
	}{
		{"fjs appid", ProfileFJS, false, FieldFJSAppID},
		{"fjs funid", ProfileFJS, false, FieldFJSFunID},
		{"fjs timestamp", ProfileFJS, false, FieldFJSTimestamp},
		{"hsa appId", ProfileHSA, false, FieldHSAAppID},
		{"hsa timestamp", ProfileHSA, false, FieldHSATimestamp},
		{"fjs code", ProfileFJS, true, "code"},
		{"hsa respCode", ProfileHSA, true, FieldHSARespCode},
	}
	bodies := map[bool]map[Profile]string{
		false: {ProfileFJS: fjsBody, ProfileHSA: hsaBody},
		true:  {ProfileFJS: fjsResponseBody, ProfileHSA: hsaResponseBody},
	}
	for _, tt := range tests {
		decode := tt.profile.DecodeRequest
		if tt.response {
			decode = tt.profile.DecodeResponse
		}
		base := []byte(bodies[tt.response][tt.profile])
		variants := map[string][]byte{
			"absent": withoutField(t, base, tt.field),
			"null":   withField(t, base, tt.field, `null`),
			"empty":  withField(t, base, tt.field, `""`),
		}
		for variant, body := range variants {
			t.Run(tt.name+"/"+variant, func(t *testing.T) {
				_, err := decode(body)
				wantCode(t, err, CodeMissingField)
				wantMessage(t, err, "缺少协议参数【"+tt.field+"】")
			})
		}
	}
}

// TestDecodeAppCode accepts the channel under either of the national
// platform's names.
func TestDecodeAppCode(t *testing.T) {
	body := withoutField(t, []byte(hsaBody), FieldHSAAppID)
	body = withField(t, body, FieldHSAAppCode, `"43AF047BBA47FC8A1AE8EFB232BDBBCB"`)
	env, err := ProfileHSA.DecodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if env.AppID != "43AF047BBA47FC8A1AE8EFB232BDBBCB" {
		t.Errorf("AppID = %q, want the appCode", env.AppID)
	}
}

func TestOpenMissingSignature(t *testing.T) {
	for _, s := range []suite{
		{ProfileFJS, SignMD5, EncNone},
		{ProfileFJS, SignSM2, EncSM4},
		{ProfileHSA, SignSM3, EncNone},
		{ProfileHSA, SignRSA, EncAES},
	} {
		client, server := suiteKeys(t, s)
		field := signFieldOf(s.profile)
		for _, response := range []bool{false, true} {
			sender, receiver := client, server
			direction := "request"
			if response {
				sender, receiver, direction = server, client, "response"
			}
			body := seal(t, s, sender, response)
			variants := map[string][]byte{
				"absent": withoutField(t, body, field),
				"null":   withField(t, body, field, `null`),
				"empty":  withField(t, body, field, `""`),
			}
			for variant, changed := range variants {
				t.Run(s.String()+"/"+direction+"/"+variant, func(t *testing.T) {
					_, err := openBody(s.profile, changed, response, receiver)
					wantCode(t, err, CodeMissingField)
					wantMessage(t, err, "缺少协议参数【"+field+"】")
				})
			}
		}
	}
}

// TestOpenCleartext sends the business fields in clear to a channel that
// requires encryption.
func TestOpenCleartext(t *testing.T) {
	for _, p := range allProfiles {
		for _, enc := range []EncType{EncSM4, EncPKCS7} {
			clearClient, clearServer := suiteKeys(t, suite{p, SignMD5, EncNone})
			encClient, encServer := suiteKeys(t, suite{p, SignMD5, enc})
			name := p.String() + "/" + string(enc)
			t.Run(name+"/request", func(t *testing.T) {
				body := seal(t, suite{p, SignMD5, EncNone}, clearClient, false)
				_, err := openBody(p, body, false, encServer)
				wantCode(t, err, CodeCleartext)
			})
			t.Run(name+"/response", func(t *testing.T) {
				body := seal(t, suite{p, SignMD5, EncNone}, clearServer, true)
				_, err := openBody(p, body, true, encClient)
				wantCode(t, err, CodeCleartext)
			})
		}
	}
}

// TestOpenRequestWithoutCiphertext sends a request signed over its protocol
// fields alone to an encrypting channel, which expects the business content
// in the ciphertext field. A response may carry no payload.
func TestOpenRequestWithoutCiphertext(t *testing.T) {
	for _, p := range allProfiles {
		clearClient, clearServer := suiteKeys(t, suite{p, SignMD5, EncNone})
		_, encServer := suiteKeys(t, suite{p, SignMD5, EncSM4})
		encClient, _ := suiteKeys(t, suite{p, SignMD5, EncSM4})
		t.Run(p.String()+"/request", func(t *testing.T) {
			request := testRequest(p)
			request.Payload = nil
			body, err := p.SealRequest(clearClient, request)
			if err != nil {
				t.Fatal(err)
			}
			_, err = openBody(p, body, false, encServer)
			wantCode(t, err, CodeMissingField)
			wantMessage(t, err, "缺少协议参数【"+encFieldOf(p)+"】")
		})
		t.Run(p.String()+"/response", func(t *testing.T) {
			response := testResponse(p)
			response.Payload = nil
			body, err := p.SealResponse(clearServer, response)
			if err != nil {
				t.Fatal(err)
			}
			opened, err := openBody(p, body, true, encClient)
			if err != nil {
				t.Fatalf("open a response without payload: %v", err)
			}
			if opened.Payload != nil {
				t.Errorf("payload %q, want none", opened.Payload)
			}
		})
	}
}

// TestOpenClearAndEncrypted adds business fields in clear beside the
// ciphertext. Such a message has business fields in clear on an
// encrypting channel.
func TestOpenClearAndEncrypted(t *testing.T) {
	tests := []struct {
		name     string
		profile  Profile
		response bool
		field    string
		value    string
	}{
		{"fjs same value", ProfileFJS, false, "org_code", `"ORG001"`},
		{"fjs other value", ProfileFJS, false, "org_code", `"ORG999"`},
		{"fjs new field", ProfileFJS, false, "note", `"x"`},
		{"hsa data", ProfileHSA, false, FieldData, `{"org_code":"ORG001"}`},
		{"fjs response data", ProfileFJS, true, FieldData, `{"pay_result":"1"}`},
		{"hsa response data", ProfileHSA, true, FieldData, `{"pay_result":"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := suite{tt.profile, SignMD5, EncSM4}
			client, server := suiteKeys(t, s)
			sender, receiver := client, server
			if tt.response {
				sender, receiver = server, client
			}
			body := withField(t, seal(t, s, sender, tt.response), tt.field, tt.value)
			_, err := openBody(tt.profile, body, tt.response, receiver)
			wantCode(t, err, CodeCleartext)
		})
	}
}

func TestOpenSignTypeMismatch(t *testing.T) {
	md5 := suite{ProfileHSA, SignMD5, EncNone}
	md5Client, md5Server := suiteKeys(t, md5)
	sm3Client, sm3Server := suiteKeys(t, suite{ProfileHSA, SignSM3, EncNone})

	t.Run("channel request", func(t *testing.T) {
		_, err := openBody(ProfileHSA, seal(t, md5, md5Client, false), false, sm3Server)
		wantCode(t, err, CodeBadSignature)
	})
	t.Run("channel response", func(t *testing.T) {
		_, err := openBody(ProfileHSA, seal(t, md5, md5Server, true), true, sm3Client)
		wantCode(t, err, CodeBadSignature)
	})
	t.Run("field", func(t *testing.T) {
		body := withField(t, seal(t, md5, md5Client, false), FieldHSASignType, `"SM3"`)
		_, err := openBody(ProfileHSA, body, false, md5Server)
		wantCode(t, err, CodeBadSignature)
	})
	t.Run("field sm2", func(t *testing.T) {
		body := withField(t, seal(t, md5, md5Client, false), FieldHSASignType, `"SM2"`)
		_, err := openBody(ProfileHSA, body, false, md5Server)
		wantCode(t, err, CodeBadSignature)
	})
}

func TestOpenEncTypeMismatch(t *testing.T) {
	s := suite{ProfileHSA, SignMD5, EncSM4}
	client, server := suiteKeys(t, s)
	body := withField(t, seal(t, s, client, false), FieldHSAEncType, `"AES"`)
	_, err := openBody(ProfileHSA, body, false, server)
	wantCode(t, err, CodeDecryptFailed)
}

// TestOpenInnerProtocolField repeats a protocol field inside chs_fjs_encdata.
// The platform may encrypt more than the business fields, so an equal copy
// is accepted and a different one rejected.
func TestOpenInnerProtocolField(t *testing.T) {
	s := suite{ProfileFJS, SignMD5, EncSM4}
	client, server := suiteKeys(t, s)
	body := seal(t, s, client, false)
	plain, err := server.Cipher.Decrypt(ciphertextOf(t, s.profile, body))
	if err != nil {
		t.Fatal(err)
	}
	withInner := func(t *testing.T, name, value string) []byte {
		inner := withField(t, plain, name, value)
		ct, err := client.Cipher.Encrypt(inner)
		if err != nil {
			t.Fatal(err)
		}
		return withCiphertext(t, s.profile, body, ct)
	}

	t.Run("same", func(t *testing.T) {
		opened, err := openBody(s.profile, withInner(t, FieldFJSFunID, `"CI00.02.00.01"`), false, server)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if bytes.Contains(opened.Payload, []byte(FieldFJSFunID)) {
			t.Errorf("payload keeps the protocol field: %s", opened.Payload)
		}
	})
	t.Run("same as number", func(t *testing.T) {
		if _, err := openBody(s.profile, withInner(t, FieldFJSTimestamp, `1700000000000`), false, server); err != nil {
			t.Errorf("open: %v", err)
		}
	})
	t.Run("differs", func(t *testing.T) {
		_, err := openBody(s.profile, withInner(t, FieldFJSFunID, `"CI00.02.00.02"`), false, server)
		if err == nil {
			t.Fatal("a chs_fjs_funid inside the ciphertext that differs from the outer one is accepted")
		}
		if code := CodeOf(err); !IsProtocolCode(code) {
			t.Errorf("code = %d (%v), want a protocol code", code, err)
		}
	})
}

// TestOpenIndentedPlaintext decrypts to indented JSON, which decoders must
// accept.
func TestOpenIndentedPlaintext(t *testing.T) {
	for _, p := range allProfiles {
		t.Run(p.String(), func(t *testing.T) {
			s := suite{p, SignSM3, EncSM4}
			client, server := suiteKeys(t, s)
			body := seal(t, s, client, false)
			plain, err := server.Cipher.Decrypt(ciphertextOf(t, p, body))
			if err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, plain, "", "    "); err != nil {
				t.Fatal(err)
			}
			ct, err := client.Cipher.Encrypt(append([]byte("\r\n"), indented.Bytes()...))
			if err != nil {
				t.Fatal(err)
			}
			opened, err := openBody(p, withCiphertext(t, p, body, ct), false, server)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if got, want := compactJSON(t, opened.Payload), compactJSON(t, []byte(requestPayload)); got != want {
				t.Errorf("payload\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestSealPayloadProtocolField(t *testing.T) {
	s := suite{ProfileFJS, SignMD5, EncNone}
	client, _ := suiteKeys(t, s)
	for _, field := range []string{FieldFJSSign, FieldFJSFunID} {
		t.Run(field, func(t *testing.T) {
			req := testRequest(ProfileFJS)
			req.Payload = []byte(`{"` + field + `":"x","org_code":"ORG001"}`)
			body, err := ProfileFJS.SealRequest(client, req)
			if err == nil {
				t.Errorf("SealRequest accepts business field %s and writes %s", field, body)
			}
		})
	}
}

func TestEncodeFault(t *testing.T) {
	msg := FormatMessage(CodeMissingField, FieldFJSAppID)
	got := string(ProfileFJS.EncodeFault(CodeMissingField, msg, "1700000000000"))
	want := `{"code":10002,"type":"error","message":"缺少协议参数【chs_fjs_appid】","chs_fjs_timestamp":"1700000000000"}`
	if got != want {
		t.Errorf("fjs fault\n got %s\nwant %s", got, want)
	}

	got = string(ProfileHSA.EncodeFault(CodeBadSignature, "", "20231115061320000"))
	want = `{"respCode":"10006","respMsg":"签名校验失败","timestamp":"20231115061320000"}`
	if got != want {
		t.Errorf("hsa fault\n got %s\nwant %s", got, want)
	}
}

func TestNewErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		code int
		args []string
		want string
	}{
		{"no placeholder", CodeBadSignature, nil, "签名校验失败"},
		{"no placeholder with arg", CodeBadSignature, []string{"x"}, "签名校验失败"},
		{"one", CodeMissingField, []string{"chs_fjs_funid"}, "缺少协议参数【chs_fjs_funid】"},
		{"one unfilled", CodeMissingField, nil, "缺少协议参数【】"},
		{"two in order", CodeRefundRepeated, []string{"PN1", "张三"}, "订单【PN1】人员【张三】不能重复冲销"},
		{"two one arg", CodeRefundRepeated, []string{"PN1"}, "订单【PN1】人员【】不能重复冲销"},
		{"extra arg", CodeOrderNotFound, []string{"PN1", "PN2"}, "订单【PN1】不存在"},
		{"arg with brackets", CodeRefundRepeated, []string{"【】", "李四"}, "订单【【】】人员【李四】不能重复冲销"},
		{"trailing placeholder", CodeOutsideFamily, []string{"无"}, "此用户与户主不在同一个家庭网,此用户家庭网 id 为【无】"},
		{"empty arg", CodeBadField, []string{""}, "字段【】格式错误"},
		{"ok", CodeOK, nil, "成功"},
		{"unknown code", 12345, nil, "系统服务异常"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewError(tt.code, tt.args...)
			if e.Code != tt.code {
				t.Errorf("Code = %d, want %d", e.Code, tt.code)
			}
			if e.Message != tt.want {
				t.Errorf("Message = %q, want %q", e.Message, tt.want)
			}
			if got := FormatMessage(tt.code, tt.args...); got != tt.want {
				t.Errorf("FormatMessage = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	if got := NewError(CodeMissingField, "chs_fjs_sign").Error(); got != "10002 缺少协议参数【chs_fjs_sign】" {
		t.Errorf("Error() = %q", got)
	}
	if got := Wrap(CodeDecryptFailed, io.ErrUnexpectedEOF).Error(); got != "10007 报文解密失败: unexpected EOF" {
		t.Errorf("Error() = %q", got)
	}
}

func TestCodeOf(t *testing.T) {
	inner := Wrap(CodeBadSignature, io.EOF)
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"direct", NewError(CodeReplay), CodeReplay},
		{"wrapped", fmt.Errorf("open: %w", inner), CodeBadSignature},
		{"wrapped twice", fmt.Errorf("gateway: %w", fmt.Errorf("open: %w", inner)), CodeBadSignature},
		{"joined", errors.Join(io.EOF, NewError(CodeTooLarge)), CodeTooLarge},
		{"outermost wins", Wrap(CodeMalformed, NewError(CodeBadSignature)), CodeMalformed},
		{"plain", io.EOF, CodeInternal},
		{"formatted plain", fmt.Errorf("x: %v", inner), CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CodeOf(tt.err); got != tt.want {
				t.Errorf("CodeOf(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	cause := errors.New("signature does not match")
	err := fmt.Errorf("open: %w", Wrap(CodeBadSignature, cause))
	if !errors.Is(err, NewError(CodeBadSignature)) {
		t.Error("errors.Is misses a wrapped error of the same code")
	}
	if !errors.Is(NewError(CodeReplay), NewError(CodeReplay)) {
		t.Error("errors.Is misses two errors of the same code")
	}
	if errors.Is(err, NewError(CodeDecryptFailed)) {
		t.Error("errors.Is matches an error of another code")
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is misses the cause")
	}
	if errors.Is(NewError(CodeBadSignature), cause) {
		t.Error("errors.Is matches a cause the error does not carry")
	}
}

func TestIsProtocolCode(t *testing.T) {
	tests := []struct {
		code int
		want bool
	}{
		{CodeOK, false},
		{10000, false},
		{CodeMalformed, true},
		{CodeCleartext, true},
		{10099, true},
		{10100, false},
		{CodeSettleCodeEmpty, false},
		{CodeInternal, false},
	}
	for _, tt := range tests {
		if got := IsProtocolCode(tt.code); got != tt.want {
			t.Errorf("IsProtocolCode(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

// replayDigest is the SHA-256 of a sign string without its trailing "key="
// and sign key, which is what Opened.SignDigest holds.
func replayDigest(signString string) [sha256.Size]byte {
	return sha256.Sum256([]byte(signString[:strings.LastIndex(signString, "key=")]))
}
