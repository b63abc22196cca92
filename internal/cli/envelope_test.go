package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"chsgate/protocol"
)

// testVectors mirrors testdata/test-vectors.json: the spec's worked examples
// and one message published by the national platform.
type testVectors struct {
	FJSRequestSignMD5 struct {
		Channel struct {
			AppID     string `json:"appid"`
			AppSecret string `json:"appsecret"`
			BizKey    string `json:"bizkey"`
			Salt      string `json:"salt"`
		} `json:"channel"`
		PlaintextRequest json.RawMessage `json:"plaintext_request"`
		SignString       string          `json:"sign_string"`
		Sign             string          `json:"chs_fjs_sign"`
	} `json:"fjs_request_sign_md5"`
	HSASM4Decrypt struct {
		AppID     string `json:"appId"`
		AppSecret string `json:"appSecret"`
		EncData   string `json:"encData"`
		Plaintext string `json:"plaintext"`
	} `json:"hsa_sm4_decrypt"`
	HSASignString struct {
		AppSecret  string          `json:"appSecret"`
		Message    json.RawMessage `json:"message"`
		SignString string          `json:"sign_string"`
	} `json:"hsa_sign_string"`
	HSASM2Verify struct {
		AppSecret string          `json:"appSecret"`
		PublicKey string          `json:"public_key_base64"`
		Message   json.RawMessage `json:"message"`
	} `json:"hsa_sm2_verify"`
}

func loadVectors(t *testing.T) *testVectors {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "test-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v testVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("parse test vectors: %v", err)
	}
	return &v
}

// result is what one in-process Run produced.
type result struct {
	code   int
	stdout string
	stderr string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// withFlags returns a copy of args with the flags in extra set: a flag that
// args already has gets the new value, others are appended. extra lists
// flags with their values, and a flag followed by another flag, or last, is
// a boolean one. The commands reject a flag given twice.
func withFlags(args []string, extra ...string) []string {
	out := slices.Clone(args)
	for i := 0; i < len(extra); i++ {
		name := extra[i]
		hasValue := i+1 < len(extra) && !strings.HasPrefix(extra[i+1], "--")
		at := slices.Index(out, name)
		switch {
		case hasValue && at >= 0:
			out[at+1] = extra[i+1]
		case hasValue:
			out = append(out, name, extra[i+1])
		case at < 0:
			out = append(out, name)
		}
		if hasValue {
			i++
		}
	}
	return out
}

// wantSuccess fails the test unless r exited with 0 and wrote no error.
func wantSuccess(t *testing.T, r result) {
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("exit status = %d, want 0; stderr: %s", r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stdout, "\n") {
		t.Errorf("stdout does not end in a newline: %q", r.stdout)
	}
}

// wantFailure checks that r exited with code, printed nothing on stdout and
// one line on stderr that starts with "chsgate: " and contains want.
func wantFailure(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status = %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "chsgate: ") {
		t.Errorf("stderr = %q, want it to start with \"chsgate: \"", r.stderr)
	}
	if n := strings.Count(r.stderr, "\n"); n != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr has %d lines, want one: %q", n, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", r.stderr, want)
	}
}

func TestSignFJSVector(t *testing.T) {
	v := loadVectors(t).FJSRequestSignMD5
	r := run(t, string(v.PlaintextRequest),
		"envelope", "sign", "--profile", "fjs", "--sign-type", "MD5", "--key", v.Channel.BizKey)
	wantSuccess(t, r)
	if r.stdout != "37A299CF9B627EABB920D3314324031B\n" {
		t.Errorf("signature = %q, want the spec's 37A299CF9B627EABB920D3314324031B", r.stdout)
	}
	if r.stdout != v.Sign+"\n" {
		t.Errorf("signature = %q, want the vector's %s", r.stdout, v.Sign)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
}

func TestSignFixtureMatchesVector(t *testing.T) {
	v := loadVectors(t).FJSRequestSignMD5
	fixture, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fjs-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, string(fixture), "envelope", "sign", "--profile", "fjs", "--sign-type", "MD5", "--key", v.Channel.BizKey)
	wantSuccess(t, r)
	if r.stdout != v.Sign+"\n" {
		t.Errorf("signature of testdata/fjs-request.json = %q, want %s", r.stdout, v.Sign)
	}
}

func TestSignStringVectors(t *testing.T) {
	v := loadVectors(t)
	tests := []struct {
		name    string
		profile string
		key     string
		message []byte
		want    string
	}{
		{"fjs", "fjs", v.FJSRequestSignMD5.Channel.BizKey, v.FJSRequestSignMD5.PlaintextRequest, v.FJSRequestSignMD5.SignString},
		{"hsa", "hsa", v.HSASignString.AppSecret, v.HSASignString.Message, v.HSASignString.SignString},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, string(tt.message), "envelope", "sign-string", "--profile", tt.profile, "--key", tt.key)
			wantSuccess(t, r)
			if r.stdout != tt.want+"\n" {
				t.Errorf("sign string\n got %q\nwant %q", r.stdout, tt.want+"\n")
			}
		})
	}
}

func TestVerifyHSASM2Vector(t *testing.T) {
	v := loadVectors(t).HSASM2Verify
	args := []string{"envelope", "verify", "--profile", "hsa", "--sign-type", "SM2",
		"--key", v.AppSecret, "--public-key", v.PublicKey}

	r := run(t, string(v.Message), args...)
	wantSuccess(t, r)
	if r.stdout != "valid\n" {
		t.Errorf("stdout = %q, want \"valid\\n\"", r.stdout)
	}

	var fields struct {
		SignData string `json:"signData"`
	}
	if err := json.Unmarshal(v.Message, &fields); err != nil {
		t.Fatal(err)
	}
	changed := []byte(fields.SignData)
	if changed[0] == 'A' {
		changed[0] = 'B'
	} else {
		changed[0] = 'A'
	}
	tampered := bytes.Replace(v.Message, []byte(fields.SignData), changed, 1)
	if bytes.Equal(tampered, v.Message) {
		t.Fatal("signData was not found in the message")
	}
	wantFailure(t, run(t, string(tampered), args...), exitFailure, "10006 签名校验失败")
}

func TestVerifyMD5FJSVector(t *testing.T) {
	v := loadVectors(t).FJSRequestSignMD5
	args := []string{"envelope", "verify", "--profile", "fjs", "--sign-type", "MD5", "--key", v.Channel.BizKey}
	signed := withField(t, v.PlaintextRequest, protocol.FieldFJSSign, v.Sign)

	r := run(t, string(signed), args...)
	wantSuccess(t, r)

	wrongKey := append(args[:len(args)-1:len(args)-1], "otherkey")
	wantFailure(t, run(t, string(signed), wrongKey...), exitFailure, "10006")
}

// withField returns the JSON object message with name set to value.
func withField(t *testing.T, message []byte, name, value string) []byte {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(message, &fields); err != nil {
		t.Fatal(err)
	}
	quoted, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	fields[name] = quoted
	out, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hsaEncryptedMessage builds an hsa request around the appendix's SM4
// ciphertext. The vector carries no envelope fields, so the request takes
// the timestamp and transType of the appendix's example message.
func hsaEncryptedMessage(t *testing.T, appID, encData string) string {
	t.Helper()
	message, err := json.Marshal(map[string]string{
		"appId":     appID,
		"encData":   encData,
		"encType":   "SM4",
		"timestamp": "20200207175759",
		"transType": "ec.gen.index",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(message)
}

func TestOpenHSASM4Vector(t *testing.T) {
	v := loadVectors(t).HSASM4Decrypt
	message := hsaEncryptedMessage(t, v.AppID, v.EncData)

	r := run(t, message, "envelope", "open", "--profile", "hsa", "--appid", v.AppID, "--appsecret", v.AppSecret)
	wantSuccess(t, r)
	var opened struct {
		AppID   string          `json:"appId"`
		Data    json.RawMessage `json:"data"`
		EncData *string         `json:"encData"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &opened); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if string(opened.Data) != v.Plaintext {
		t.Errorf("data\n got %s\nwant %s", opened.Data, v.Plaintext)
	}
	if opened.AppID != v.AppID {
		t.Errorf("appId = %q, want %q", opened.AppID, v.AppID)
	}
	if opened.EncData != nil {
		t.Errorf("opened message still has encData %q", *opened.EncData)
	}
	if !strings.Contains(r.stderr, "signature not checked") {
		t.Errorf("stderr = %q, want a note that the signature was not checked", r.stderr)
	}
}

func TestOpenHSASM4WrongSecret(t *testing.T) {
	v := loadVectors(t).HSASM4Decrypt
	message := hsaEncryptedMessage(t, v.AppID, v.EncData)
	// The derivation keeps one cipher block of the appsecret, so only its
	// first 16 characters change the data key.
	wrong := "0" + v.AppSecret[1:]

	r := run(t, message, "envelope", "open", "--profile", "hsa", "--appid", v.AppID, "--appsecret", wrong)
	wantFailure(t, r, exitFailure, "10007 报文解密失败")
}

// sm2KeyPair returns a new SM2 key pair as hex: the 32-byte scalar and the
// 65-byte uncompressed point.
func sm2KeyPair(t *testing.T) (privateHex, publicHex string) {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecdhKey, err := key.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(ecdhKey.Bytes()), hex.EncodeToString(ecdhKey.PublicKey().Bytes())
}

func TestSealOpenRoundTrip(t *testing.T) {
	vectors := loadVectors(t)
	fjsChannel := vectors.FJSRequestSignMD5.Channel
	hsaChannel := vectors.HSASM4Decrypt
	privateKey, publicKey := sm2KeyPair(t)
	_, otherPublicKey := sm2KeyPair(t)

	type channel struct {
		profile, appID, appSecret, salt, signKey string
		payload                                  string
	}
	channels := []channel{
		{"fjs", fjsChannel.AppID, fjsChannel.AppSecret, fjsChannel.Salt, fjsChannel.BizKey,
			`{"psnBasicInfoDTO":{"name":"王二","certNo":"650101198001010032","pageNo":2},"remark":"a&b<c>"}`},
		{"hsa", hsaChannel.AppID, hsaChannel.AppSecret, "", hsaChannel.AppSecret,
			`{"idNo":"350582199711193519","userName":"闽政通测试","amount":12.50,"list":[1,"x"]}`},
	}
	for _, ch := range channels {
		for _, signType := range []string{"MD5", "SM3", "SM2"} {
			for _, encType := range []string{"SM4", "AES", "none"} {
				t.Run(ch.profile+"/"+signType+"/"+encType, func(t *testing.T) {
					channelFlags := []string{"--profile", ch.profile, "--appid", ch.appID,
						"--appsecret", ch.appSecret, "--enc-type", encType}
					if ch.salt != "" {
						channelFlags = append(channelFlags, "--salt", ch.salt)
					}
					sealArgs := append([]string{"envelope", "seal"}, channelFlags...)
					sealArgs = append(sealArgs, "--sign-type", signType, "--key", ch.signKey, "--funid", "CI00.01.00.03")
					openArgs := append([]string{"envelope", "open"}, channelFlags...)
					openArgs = append(openArgs, "--sign-type", signType, "--key", ch.signKey)
					wrongKeyArgs := withFlags(openArgs, "--key", "not-the-sign-key")
					if signType == "SM2" {
						sealArgs = append(sealArgs, "--private-key", privateKey)
						wrongKeyArgs = withFlags(openArgs, "--public-key", otherPublicKey)
						openArgs = append(openArgs, "--public-key", publicKey)
					}

					sealed := run(t, ch.payload, sealArgs...)
					wantSuccess(t, sealed)
					checkSealed(t, ch.profile, encType, sealed.stdout)

					opened := run(t, sealed.stdout, openArgs...)
					wantSuccess(t, opened)
					if opened.stderr != "" {
						t.Errorf("open with --key wrote to stderr: %q", opened.stderr)
					}
					checkPayload(t, ch.profile, ch.payload, opened.stdout)

					wantFailure(t, run(t, sealed.stdout, wrongKeyArgs...), exitFailure, "10006 签名校验失败")
				})
			}
		}
	}
}

// checkSealed checks the protocol fields of a sealed request, and that the
// payload is in clear only when encType is none.
func checkSealed(t *testing.T, profile, encType, sealed string) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(sealed), &fields); err != nil {
		t.Fatalf("sealed request is not JSON: %v\n%s", err, sealed)
	}
	p, _ := protocol.ParseProfile(profile)
	ciphertext, timestampField := protocol.FieldFJSEncData, protocol.FieldFJSTimestamp
	if p == protocol.ProfileHSA {
		ciphertext, timestampField = protocol.FieldHSAEncData, protocol.FieldHSATimestamp
	}

	_, encrypted := fields[ciphertext]
	if encrypted != (encType != "none") {
		t.Errorf("sealed request has %s: %v, want %v with --enc-type %s", ciphertext, encrypted, encType != "none", encType)
	}
	// Each test payload carries one of these ID numbers.
	inClear := strings.Contains(sealed, "350582199711193519") || strings.Contains(sealed, "650101198001010032")
	if inClear == encrypted {
		t.Errorf("payload in clear: %v, want %v with --enc-type %s: %s", inClear, !encrypted, encType, sealed)
	}

	var timestamp string
	if err := json.Unmarshal(fields[timestampField], &timestamp); err != nil {
		t.Fatalf("%s is not a string: %v", timestampField, err)
	}
	stamped, err := p.ParseTimestamp(timestamp)
	if err != nil {
		t.Fatalf("default timestamp %q does not parse: %v", timestamp, err)
	}
	if skew := time.Since(stamped); skew < -time.Minute || skew > time.Minute {
		t.Errorf("default timestamp %s is %v from now", timestamp, skew)
	}
}

// checkPayload checks that the opened message carries payload: as the data
// value (hsa) or as its business fields (fjs).
func checkPayload(t *testing.T, profile, payload, opened string) {
	t.Helper()
	var openedFields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(opened), &openedFields); err != nil {
		t.Fatalf("opened message is not JSON: %v\n%s", err, opened)
	}
	if profile == "hsa" {
		if got := compactJSON(t, openedFields["data"]); got != compactJSON(t, []byte(payload)) {
			t.Errorf("data\n got %s\nwant %s", got, payload)
		}
		return
	}
	var payloadFields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &payloadFields); err != nil {
		t.Fatal(err)
	}
	for name, want := range payloadFields {
		if got := compactJSON(t, openedFields[name]); got != compactJSON(t, want) {
			t.Errorf("business field %s\n got %s\nwant %s", name, got, want)
		}
	}
	if _, ok := openedFields[protocol.FieldFJSAppSecret]; !ok {
		t.Errorf("opened fjs request has no %s: %s", protocol.FieldFJSAppSecret, opened)
	}
}

func compactJSON(t *testing.T, value []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, value); err != nil {
		t.Fatalf("not JSON: %v: %q", err, value)
	}
	return out.String()
}

func TestSignSM2KeyFromFile(t *testing.T) {
	v := loadVectors(t).FJSRequestSignMD5
	privateKey, publicKey := sm2KeyPair(t)
	keyFile := filepath.Join(t.TempDir(), "sm2.key")
	if err := os.WriteFile(keyFile, []byte(privateKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	signed := run(t, string(v.PlaintextRequest), "envelope", "sign", "--profile", "fjs",
		"--sign-type", "SM2", "--key", v.Channel.BizKey, "--private-key", "@"+keyFile)
	wantSuccess(t, signed)
	message := withField(t, v.PlaintextRequest, protocol.FieldFJSSign, strings.TrimSuffix(signed.stdout, "\n"))

	verified := run(t, string(message), "envelope", "verify", "--profile", "fjs",
		"--sign-type", "SM2", "--key", v.Channel.BizKey, "--public-key", publicKey)
	wantSuccess(t, verified)
}

func TestSignVerifyRSA(t *testing.T) {
	v := loadVectors(t).FJSRequestSignMD5
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privatePEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	publicDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER})

	signed := run(t, string(v.PlaintextRequest), "envelope", "sign", "--profile", "fjs",
		"--sign-type", "RSA", "--key", v.Channel.BizKey, "--private-key", string(privatePEM))
	wantSuccess(t, signed)
	message := withField(t, v.PlaintextRequest, protocol.FieldFJSSign, strings.TrimSuffix(signed.stdout, "\n"))

	verifyArgs := []string{"envelope", "verify", "--profile", "fjs", "--sign-type", "RSA", "--public-key", string(publicPEM)}
	wantSuccess(t, run(t, string(message), append(verifyArgs, "--key", v.Channel.BizKey)...))
	wantFailure(t, run(t, string(message), append(verifyArgs, "--key", "otherkey")...), exitFailure, "10006")
}

func TestEnvelopeErrors(t *testing.T) {
	v := loadVectors(t)
	request := string(v.FJSRequestSignMD5.PlaintextRequest)
	sm2Message := string(v.HSASM2Verify.Message)
	encrypted := hsaEncryptedMessage(t, v.HSASM4Decrypt.AppID, v.HSASM4Decrypt.EncData)
	sign := []string{"envelope", "sign", "--profile", "fjs", "--sign-type", "MD5", "--key", "testkey"}
	seal := []string{"envelope", "seal", "--profile", "fjs", "--appid", "ldxt", "--appsecret", "secret",
		"--salt", "f2313d85601342b8b15c872286c6aaff", "--sign-type", "MD5", "--key", "testkey"}
	openFJS := []string{"envelope", "open", "--profile", "fjs", "--appid", "ldxt", "--appsecret", "s", "--salt", "f2313d85601342b8b15c872286c6aaff"}
	protocolFieldsOnly := `{"chs_fjs_appid":"ldxt","chs_fjs_funid":"F","chs_fjs_timestamp":1631685457000}`
	largeKey := filepath.Join(t.TempDir(), "large.key")
	if err := os.WriteFile(largeKey, make([]byte, maxKeyFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"no command", nil, "", exitUsage, "missing command"},
		{"unknown command", []string{"frob"}, "", exitUsage, `unknown command "frob"`},
		{"unknown subcommand", []string{"envelope", "frob"}, request, exitUsage, `unknown command "frob"`},
		{"missing subcommand", []string{"envelope"}, request, exitUsage, "missing command"},
		{"undefined flag", append(sign, "--frob"), request, exitUsage, "flag provided but not defined"},
		{"flag given twice", append(sign[:len(sign):len(sign)], "--key", "other"), request, exitUsage, "envelope sign: --key is given more than once: give each flag once"},
		{"boolean flag given twice", []string{"serve", "--sandbox", "--sandbox=false", "--db", "x.db"}, "", exitUsage, "serve: --sandbox is given more than once"},
		{"positional argument", append(sign, "message.json"), request, exitUsage, `unexpected argument "message.json"`},
		{"missing profile", []string{"envelope", "sign", "--sign-type", "MD5", "--key", "k"}, request, exitUsage, "missing --profile"},
		{"unknown profile", []string{"envelope", "sign-string", "--profile", "xyz", "--key", "k"}, request, exitUsage, "invalid --profile"},
		{"missing key", []string{"envelope", "sign-string", "--profile", "fjs"}, request, exitUsage, "missing --key"},
		{"missing sign type", []string{"envelope", "sign", "--profile", "fjs", "--key", "k"}, request, exitUsage, "missing --sign-type"},
		{"bad sign type", []string{"envelope", "sign", "--profile", "fjs", "--sign-type", "SHA1", "--key", "k"}, request, exitUsage, "invalid --sign-type"},
		{"SM2 without private key", []string{"envelope", "sign", "--profile", "fjs", "--sign-type", "SM2", "--key", "k"}, request, exitUsage, "missing --private-key"},
		{"SM2 with bad private key", []string{"envelope", "sign", "--profile", "fjs", "--sign-type", "SM2", "--key", "k", "--private-key", "abcd"}, request, exitUsage, "invalid --private-key"},
		{"private key file missing", []string{"envelope", "sign", "--profile", "fjs", "--sign-type", "SM2", "--key", "k", "--private-key", "@" + filepath.Join(t.TempDir(), "absent.key")}, request, exitUsage, "read --private-key"},
		{"private key file too large", []string{"envelope", "sign", "--profile", "fjs", "--sign-type", "SM2", "--key", "k", "--private-key", "@" + largeKey}, request, exitUsage, "large.key is larger than 64 KiB"},
		{"MD5 with private key", append(sign, "--private-key", "00"), request, exitUsage, "--private-key is used only with sign type SM2 or RSA"},
		{"SM2 verify without public key", []string{"envelope", "verify", "--profile", "hsa", "--sign-type", "SM2", "--key", "k"}, sm2Message, exitUsage, "missing --public-key"},
		{"empty stdin", sign, "", exitUsage, "standard input is empty"},
		{"blank stdin", sign, " \n\t", exitUsage, "standard input is empty"},
		{"non-JSON stdin", sign, "chs_fjs_appid=ldxt", exitFailure, "10001 请求报文格式错误"},
		{"JSON array stdin", sign, "[1,2]", exitFailure, "10001"},
		{"sign encrypted message", []string{"envelope", "sign", "--profile", "hsa", "--sign-type", "MD5", "--key", "k"}, encrypted, exitFailure, "encrypted: it has encData. Run 'chsgate envelope open'"},
		{"sign-string encrypted message", []string{"envelope", "sign-string", "--profile", "hsa", "--key", "k"}, encrypted, exitFailure, "encrypted"},
		{"verify unsigned message", []string{"envelope", "verify", "--profile", "fjs", "--sign-type", "MD5", "--key", "testkey"}, request, exitFailure, "10002 缺少协议参数【chs_fjs_sign】"},
		{"verify other sign type", []string{"envelope", "verify", "--profile", "hsa", "--sign-type", "SM3", "--key", "k"}, sm2Message, exitFailure, "signType SM2 differs from --sign-type SM3"},
		{"verify signature not a string", []string{"envelope", "verify", "--profile", "fjs", "--sign-type", "MD5", "--key", "k"}, `{"a":"b","chs_fjs_sign":5}`, exitFailure, "10001"},
		{"seal missing funid", seal, `{"a":1}`, exitUsage, "missing --funid"},
		{"seal missing appid", []string{"envelope", "seal", "--profile", "hsa", "--sign-type", "MD5", "--key", "k", "--funid", "F"}, `{"a":1}`, exitUsage, "missing --appid"},
		{"seal fjs missing appsecret", []string{"envelope", "seal", "--profile", "fjs", "--appid", "ldxt", "--sign-type", "MD5", "--key", "k", "--funid", "F", "--enc-type", "none"}, `{"a":1}`, exitUsage, "missing --appsecret"},
		{"seal missing salt", []string{"envelope", "seal", "--profile", "fjs", "--appid", "ldxt", "--appsecret", "s", "--sign-type", "MD5", "--key", "k", "--funid", "F"}, `{"a":1}`, exitUsage, "missing --salt"},
		{"seal bad timestamp", append(seal, "--funid", "F", "--timestamp", "1631685457"), `{"a":1}`, exitUsage, "invalid --timestamp"},
		{"seal RSA encryption", append(seal, "--funid", "F", "--enc-type", "RSA"), `{"a":1}`, exitUsage, "--enc-type RSA is not supported"},
		{"seal bad enc type", append(seal, "--funid", "F", "--enc-type", "DES"), `{"a":1}`, exitUsage, "invalid --enc-type"},
		{"seal bad key derivation", append(seal, "--funid", "F", "--key-derivation", "pbkdf2"), `{"a":1}`, exitUsage, "invalid --key-derivation"},
		{"seal short salt", withFlags(seal, "--funid", "F", "--salt", "short"), `{"a":1}`, exitUsage, "derive the data key"},
		{"seal fjs payload not an object", append(seal, "--funid", "F"), `[1]`, exitFailure, "seal the request"},
		{"open sign type without key", []string{"envelope", "open", "--profile", "hsa", "--appid", v.HSASM4Decrypt.AppID, "--appsecret", v.HSASM4Decrypt.AppSecret, "--sign-type", "MD5"}, encrypted, exitUsage, "need --key"},
		{"open other appid", []string{"envelope", "open", "--profile", "hsa", "--appid", "OTHERAPPID0123456789", "--appsecret", v.HSASM4Decrypt.AppSecret}, encrypted, exitFailure, "differs from --appid"},
		{"open cleartext with cipher", []string{"envelope", "open", "--profile", "hsa", "--appid", "43AF047BBA47FC8A1AE8EFB232BDBBCB", "--appsecret", "4117E877F5FA0A0188891283E4B617D5"}, `{"appId":"43AF047BBA47FC8A1AE8EFB232BDBBCB","timestamp":"20200207175759","data":{"a":1}}`, exitFailure, "10012"},
		{"open encrypted without cipher", []string{"envelope", "open", "--profile", "hsa", "--appid", v.HSASM4Decrypt.AppID, "--enc-type", "none"}, encrypted, exitFailure, "10007"},
		{"open incomplete request", []string{"envelope", "open", "--profile", "fjs", "--appid", "ldxt", "--appsecret", "s", "--salt", "f2313d85601342b8b15c872286c6aaff"}, `{"chs_fjs_appid":"ldxt"}`, exitFailure, "10002 缺少协议参数【chs_fjs_funid】"},
		{"open request without ciphertext", openFJS, protocolFieldsOnly, exitFailure, "10002 缺少协议参数【chs_fjs_encdata】"},
		{"open request without ciphertext hint", openFJS, protocolFieldsOnly, exitFailure, "The request has no ciphertext: pass --enc-type none"},
		{"open unsigned with key", []string{"envelope", "open", "--profile", "fjs", "--appid", "ldxt", "--enc-type", "none", "--sign-type", "MD5", "--key", "testkey"}, request, exitFailure, "10002 缺少协议参数【chs_fjs_sign】"},
		{"help of unknown command", []string{"help", "frob"}, "", exitUsage, `unknown command "frob"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFailure(t, run(t, tt.stdin, tt.args...), tt.code, tt.want)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"program", []string{"help"}, []string{"envelope", "version", "help"}},
		{"program flag", []string{"-h"}, []string{"envelope", "version"}},
		{"envelope", []string{"envelope", "-h"}, []string{"sign-string", "sign", "verify", "open", "seal"}},
		{"help envelope", []string{"help", "envelope"}, []string{"sign-string", "seal"}},
		{"sign-string", []string{"envelope", "sign-string", "-h"}, []string{"--profile", "--key"}},
		{"sign", []string{"envelope", "sign", "-h"}, []string{"--profile", "--sign-type", "--key", "--private-key"}},
		{"verify", []string{"envelope", "verify", "--help"}, []string{"--profile", "--sign-type", "--key", "--public-key"}},
		{"open", []string{"help", "envelope", "open"}, []string{"--appid", "--appsecret", "--salt", "--enc-type", "--key-derivation", "--key", "--sign-type", "--public-key"}},
		{"seal", []string{"envelope", "seal", "-h"}, []string{"--appid", "--appsecret", "--salt", "--enc-type", "--key-derivation", "--sign-type", "--key", "--private-key", "--funid", "--timestamp", "(default SM4)"}},
		{"version", []string{"version", "-h"}, []string{"Usage: chsgate version"}},
		// The usage names a flag's type from its value, which parsing wraps
		// for a while to catch repeated flags.
		{"serve", []string{"serve", "-h"}, []string{"--timestamp-window duration", "--max-detail-records int", "--log-format string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.args...)
			wantSuccess(t, r)
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("usage does not mention %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "", "version")
	wantSuccess(t, r)
	if !strings.HasPrefix(r.stdout, "chsgate ") || !strings.Contains(r.stdout, " go1.") {
		t.Errorf("version = %q, want chsgate, a version and the Go version", r.stdout)
	}
}

// TestBinary builds the real program and runs it as a subprocess, checking
// what a shell script gets: stdout and the exit status.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found in PATH")
	}
	binary := filepath.Join(t.TempDir(), "chsgate")
	build := exec.Command(goTool, "build", "-o", binary, "chsgate/cmd/chsgate")
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, output)
	}

	fixture := filepath.Join("..", "..", "testdata", "fjs-request.json")
	signArgs := []string{"envelope", "sign", "--profile", "fjs", "--sign-type", "MD5", "--key", "testkey"}
	stdout, stderr, code := runBinary(t, binary, fixture, signArgs...)
	if code != 0 || stdout != "37A299CF9B627EABB920D3314324031B\n" {
		t.Errorf("sign: exit status %d, stdout %q, stderr %q; want 0 and the spec's signature", code, stdout, stderr)
	}

	request, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(t.TempDir(), "forged.json")
	if err := os.WriteFile(forged, withField(t, request, protocol.FieldFJSSign, "37A299CF9B627EABB920D3314324031C"), 0o600); err != nil {
		t.Fatal(err)
	}
	verifyArgs := []string{"envelope", "verify", "--profile", "fjs", "--sign-type", "MD5", "--key", "testkey"}
	stdout, stderr, code = runBinary(t, binary, forged, verifyArgs...)
	if code != exitFailure {
		t.Errorf("verify of a wrong signature: exit status %d, want 1", code)
	}
	if stdout != "" || !strings.HasPrefix(stderr, "chsgate: 10006 ") {
		t.Errorf("verify of a wrong signature: stdout %q, stderr %q", stdout, stderr)
	}
}

// runBinary runs binary with args and the file stdinPath as standard input.
func runBinary(t *testing.T, binary, stdinPath string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdin, err := os.Open(stdinPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("run %s: %v", binary, err)
	}
	return out.String(), errOut.String(), code
}
