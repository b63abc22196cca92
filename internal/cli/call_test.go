package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chsgate/protocol"
)

// The sandbox's demo channel, and a key pair generated for these tests that
// replaces the platform's own SM2 key.
const (
	callAppID              = "ldxt"
	callAppSecret          = "67b082f9d58045619a4ef05147b87659"
	callBizKey             = "testkey"
	callSalt               = "f2313d85601342b8b15c872286c6aaff"
	callChannelPrivateKey  = "8eb480ce1185b47c6271a4e065694c07387e456834d4929fdb532fdf0cbf5311"
	callChannelPublicKey   = "04c8b6bc8cb8315cd777c961887ad91e77098e2adf1c6530fc60270434eedd2c4271dd0b5c8cd9a1689058aacd3f053cf7f2b6d98c48f9454e29fd44e5414196a8"
	callPlatformPrivateKey = "a671ccccc61aa16d9a1d0b28980f83abf6ec7e2c884a6915a91c20bc96a86011"
	callPlatformPublicKey  = "0415fb5100126d2286e76ccb79b7e80f7e03f66a35daf7576c3c45166d78fc97dc3defeb2c807837ad385f5bf8e7355e9b2b85bf81df299272dcedfc0447e307a3"
	callAccessToken        = "token-1"
)

// callRSAKeyPairs returns the RSA key pairs of the demo channel and of the
// platform for sign type RSA, generated once for these tests.
var callRSAKeyPairs = sync.OnceValues(func() (*callRSAKeys, error) {
	var keys callRSAKeys
	var err error
	if keys.channelPrivate, keys.channelPublic, err = generateRSAKeyPair(2048); err != nil {
		return nil, err
	}
	if keys.platformPrivate, keys.platformPublic, err = generateRSAKeyPair(2048); err != nil {
		return nil, err
	}
	return &keys, nil
})

// callRSAKeys are the channel's and the platform's RSA key pairs, each key
// in PEM.
type callRSAKeys struct {
	channelPrivate, channelPublic   string
	platformPrivate, platformPublic string
}

func rsaKeysForCall(t *testing.T) *callRSAKeys {
	t.Helper()
	keys, err := callRSAKeyPairs()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// callPlatform plays the platform's gateway and token endpoint for the demo
// channel with the protocol package.
type callPlatform struct {
	*httptest.Server
	keys          *protocol.Keys
	tamper        bool // flip a character of each response signature
	gatewayHits   atomic.Int32
	tokenHits     atomic.Int32
	lastPath      atomic.Value // string
	lastToken     atomic.Value // string
	lastAppSecret atomic.Value // string
}

func startCallPlatform(t *testing.T, signType protocol.SignType, encType protocol.EncType, tamper bool) *callPlatform {
	t.Helper()
	config := protocol.KeyConfig{
		SignType: signType,
		SignKey:  callBizKey,
		EncType:  encType,
		Secrets:  protocol.ChannelSecrets{AppID: callAppID, AppSecret: callAppSecret, Salt: callSalt},
	}
	var err error
	switch signType {
	case protocol.SignSM2:
		if config.SM2PrivateKey, err = protocol.ParseSM2PrivateKey(callPlatformPrivateKey); err != nil {
			t.Fatal(err)
		}
		if config.SM2PublicKey, err = protocol.ParseSM2PublicKey(callChannelPublicKey); err != nil {
			t.Fatal(err)
		}
	case protocol.SignRSA:
		rsaKeys := rsaKeysForCall(t)
		if config.RSAPrivateKey, err = protocol.ParseRSAPrivateKey(rsaKeys.platformPrivate); err != nil {
			t.Fatal(err)
		}
		if config.RSAPublicKey, err = protocol.ParseRSAPublicKey(rsaKeys.channelPublic); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := protocol.NewKeys(config)
	if err != nil {
		t.Fatal(err)
	}
	p := &callPlatform{keys: keys, tamper: tamper}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", p.serveToken)
	mux.HandleFunc("POST /gateway", p.serveGateway)
	mux.HandleFunc("POST /gateway/{funid}", p.serveGateway)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *callPlatform) serveToken(w http.ResponseWriter, r *http.Request) {
	p.tokenHits.Add(1)
	timestamp := protocol.ProfileFJS.FormatTimestamp(time.Now())
	if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_id") != callAppID || r.PostForm.Get("client_secret") != callAppSecret {
		w.Write(protocol.ProfileFJS.EncodeFault(protocol.CodeAuthFailed, "", timestamp))
		return
	}
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":7200}`, callAccessToken)
}

func (p *callPlatform) serveGateway(w http.ResponseWriter, r *http.Request) {
	p.gatewayHits.Add(1)
	p.lastPath.Store(r.URL.Path)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(p.respond(r, body))
}

func (p *callPlatform) respond(r *http.Request, body []byte) []byte {
	profile := protocol.ProfileFJS
	now := time.Now()
	timestamp := profile.FormatTimestamp(now)
	fault := func(err error) []byte {
		var e *protocol.Error
		if !errors.As(err, &e) {
			e = protocol.NewError(protocol.CodeInternal)
		}
		return profile.EncodeFault(e.Code, e.Message, timestamp)
	}

	envelope, err := profile.DecodeRequest(body)
	if err != nil {
		return fault(err)
	}
	p.lastToken.Store(envelope.Token)
	p.lastAppSecret.Store(envelope.AppSecret)
	switch {
	case envelope.AppID != callAppID:
		return fault(protocol.NewError(protocol.CodeUnknownChannel))
	case envelope.Token != "" && envelope.Token != callAccessToken,
		envelope.Token == "" && envelope.AppSecret != callAppSecret:
		return fault(protocol.NewError(protocol.CodeAuthFailed))
	}
	if alias := r.PathValue("funid"); alias != "" && alias != envelope.FunID {
		return fault(protocol.NewError(protocol.CodeUnknownFunction))
	}
	if err := profile.CheckTimestamp(envelope.Timestamp, now, protocol.DefaultTimestampWindow); err != nil {
		return fault(err)
	}
	opened, err := envelope.Open(p.keys)
	if err != nil {
		return fault(err)
	}

	code, data := callBusiness(envelope.FunID, opened.Payload)
	var payload []byte
	if data != nil {
		if payload, err = json.Marshal(data); err != nil {
			return fault(err)
		}
	}
	sealed, err := profile.SealResponse(p.keys, &protocol.Response{Code: code, Timestamp: timestamp, Payload: payload})
	if err != nil {
		return fault(err)
	}
	if p.tamper {
		sealed = []byte(strings.Replace(string(sealed), `"chs_fjs_sign":"`, `"chs_fjs_sign":"0`, 1))
	}
	return sealed
}

// callBusiness responds to CI00.01.00.03 with one insured entry per person, or
// 20030 for a person without a name, and every other function with its
// function id.
func callBusiness(funID string, payload []byte) (int, any) {
	if funID != "CI00.01.00.03" {
		return protocol.CodeOK, map[string]string{"funid": funID}
	}
	var request struct {
		UserList []struct {
			Name string `json:"name"`
		} `json:"userlist"`
	}
	if err := json.Unmarshal(payload, &request); err != nil {
		return protocol.CodeBadField, nil
	}
	list := []map[string]string{}
	for _, person := range request.UserList {
		if person.Name == "" {
			return protocol.CodeNameEmpty, nil
		}
		list = append(list, map[string]string{"region": "350102", "is_insu": "1", "insutypeName": "职工基本医疗保险"})
	}
	return protocol.CodeOK, map[string]any{"list": list}
}

const callInsuredInput = `{"userlist":[{"name":"王二","idcard":"650101198001010032","cert_type":"01"}]}`

// callArgs returns the arguments of a call of funID on the demo channel,
// followed by extra.
func callArgs(url, funID string, extra ...string) []string {
	args := []string{"call", "--url", url, "--appid", callAppID, "--appsecret", callAppSecret,
		"--bizkey", callBizKey, "--salt", callSalt, "--funid", funID}
	return withFlags(args, extra...)
}

func TestCallPrintsIndentedData(t *testing.T) {
	p := startCallPlatform(t, protocol.SignSM3, protocol.EncSM4, false)

	r := run(t, callInsuredInput, callArgs(p.URL, "CI00.01.00.03")...)
	wantSuccess(t, r)
	want := `{
  "list": [
    {
      "insutypeName": "职工基本医疗保险",
      "is_insu": "1",
      "region": "350102"
    }
  ]
}
`
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
	if secret, _ := p.lastAppSecret.Load().(string); secret != callAppSecret {
		t.Errorf("chs_fjs_appsecret = %q, want the channel's appsecret in key mode", secret)
	}
}

func TestCallSuites(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "channel.key")
	if err := os.WriteFile(keyFile, []byte(callChannelPrivateKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaKeys := rsaKeysForCall(t)
	rsaKeyFile := filepath.Join(t.TempDir(), "channel-rsa.key")
	if err := os.WriteFile(rsaKeyFile, []byte(rsaKeys.channelPrivate), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		signType protocol.SignType
		encType  protocol.EncType
		extra    []string
	}{
		{"MD5 in clear", protocol.SignMD5, protocol.EncNone, []string{"--sign-type", "MD5", "--enc-type", "none"}},
		{"SM3 and AES", protocol.SignSM3, protocol.EncAES, []string{"--enc-type", "AES", "--key-derivation", "salt"}},
		{"SM2 with key file", protocol.SignSM2, protocol.EncSM4, []string{"--sign-type", "SM2",
			"--private-key", "@" + keyFile, "--platform-public-key", callPlatformPublicKey}},
		{"RSA with key file", protocol.SignRSA, protocol.EncSM4, []string{"--sign-type", "RSA",
			"--rsa-private-key", "@" + rsaKeyFile, "--platform-rsa-public-key", rsaKeys.platformPublic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startCallPlatform(t, tt.signType, tt.encType, false)
			r := run(t, callInsuredInput, callArgs(p.URL, "CI00.01.00.03", tt.extra...)...)
			wantSuccess(t, r)
			if !strings.Contains(r.stdout, `"is_insu": "1"`) {
				t.Errorf("stdout = %q, want the insured entry", r.stdout)
			}
		})
	}
}

func TestCallTokenMode(t *testing.T) {
	p := startCallPlatform(t, protocol.SignSM3, protocol.EncSM4, false)

	r := run(t, callInsuredInput, callArgs(p.URL, "CI00.01.00.03", "--token-mode")...)
	wantSuccess(t, r)
	if n := p.tokenHits.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
	if token, _ := p.lastToken.Load().(string); token != callAccessToken {
		t.Errorf("chs_fjs_token = %q, want %q", token, callAccessToken)
	}
	if secret, _ := p.lastAppSecret.Load().(string); secret != "" {
		t.Errorf("chs_fjs_appsecret = %q in token mode, want none", secret)
	}
}

func TestCallReconDetailAlias(t *testing.T) {
	p := startCallPlatform(t, protocol.SignSM3, protocol.EncSM4, false)

	r := run(t, `{"setl_date":"2026-05-01"}`, callArgs(p.URL, "CI00.02.00.08")...)
	wantSuccess(t, r)
	if path, _ := p.lastPath.Load().(string); path != "/gateway/CI00.02.00.08" {
		t.Errorf("path = %q, want /gateway/CI00.02.00.08", path)
	}
}

func TestCallResultNotSuccess(t *testing.T) {
	tests := []struct {
		name   string
		tamper bool
		input  string
		extra  []string
		want   string
	}{
		{"protocol fault", false, callInsuredInput, []string{"--appsecret", "00000000000000000000000000000000"}, "chsgate: 10004 渠道认证失败. Check --appsecret"},
		{"business error", false, `{"userlist":[{"name":"","idcard":"650101198001010032","cert_type":"01"}]}`, nil, "chsgate: 20030 姓名不能为空\n"},
		{"token rejected", false, callInsuredInput, []string{"--token-mode", "--appsecret", "00000000000000000000000000000000"}, "chsgate: 10004 渠道认证失败. Check --appsecret"},
		{"tampered signature", true, callInsuredInput, nil, "verify the CI00.01.00.03 response: 10006"},
		{"business fields in clear", false, callInsuredInput, []string{"--enc-type", "none"}, "chsgate: 10012 渠道要求报文加密. The channel requires encryption"},
		{"no business fields in clear", false, `{}`, []string{"--enc-type", "none"}, "chsgate: 10002 缺少协议参数【chs_fjs_encdata】. The channel requires encryption"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startCallPlatform(t, protocol.SignSM3, protocol.EncSM4, tt.tamper)
			r := run(t, tt.input, callArgs(p.URL, "CI00.01.00.03", tt.extra...)...)
			wantFailure(t, r, exitFailure, tt.want)
		})
	}
}

func TestCallRSAWrongKeys(t *testing.T) {
	rsaKeys := rsaKeysForCall(t)
	tests := []struct {
		name                    string
		channelKey, platformKey string
		want                    string
	}{
		{"wrong signing key", rsaKeys.platformPrivate, rsaKeys.platformPublic, "chsgate: 10006 签名校验失败. Check --sign-type and --bizkey (and for SM2 --private-key, for RSA --rsa-private-key)"},
		{"wrong platform key", rsaKeys.channelPrivate, rsaKeys.channelPublic, "The platform answered, but its response failed the check here. Check --sign-type and --bizkey, and for SM2 --platform-public-key or for RSA --platform-rsa-public-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startCallPlatform(t, protocol.SignRSA, protocol.EncSM4, false)
			r := run(t, callInsuredInput, callArgs(p.URL, "CI00.01.00.03", "--sign-type", "RSA",
				"--rsa-private-key", tt.channelKey, "--platform-rsa-public-key", tt.platformKey)...)
			wantFailure(t, r, exitFailure, tt.want)
		})
	}
}

func TestCallTransportFailure(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream unavailable", http.StatusBadGateway)
	}))
	t.Cleanup(server.Close)

	r := run(t, callInsuredInput, callArgs(server.URL, "CI00.01.00.03")...)
	wantFailure(t, r, exitFailure, "502")
	if !strings.Contains(r.stderr, "query the outcome before retrying") {
		t.Errorf("stderr = %q, want the advice to query before retrying", r.stderr)
	}
}

func TestCallUsageErrors(t *testing.T) {
	const url = "http://127.0.0.1:1"
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"missing url", []string{"call", "--appid", callAppID, "--funid", "CI00.01.00.03"}, callInsuredInput, exitUsage, "missing --url"},
		{"missing appid", []string{"call", "--url", url, "--funid", "CI00.01.00.03"}, callInsuredInput, exitUsage, "missing --appid"},
		{"missing funid", []string{"call", "--url", url, "--appid", callAppID}, callInsuredInput, exitUsage, "missing --funid"},
		{"bad timeout", callArgs(url, "CI00.01.00.03", "--timeout", "0s"), callInsuredInput, exitUsage, "invalid --timeout"},
		{"bad sign type", callArgs(url, "CI00.01.00.03", "--sign-type", "SHA1"), callInsuredInput, exitUsage, "invalid --sign-type"},
		{"bad enc type", callArgs(url, "CI00.01.00.03", "--enc-type", "DES"), callInsuredInput, exitUsage, "invalid --enc-type"},
		{"bad url scheme", callArgs("ftp://127.0.0.1", "CI00.01.00.03"), callInsuredInput, exitUsage, "scheme must be http or https"},
		{"missing bizkey", []string{"call", "--url", url, "--appid", callAppID, "--appsecret", callAppSecret, "--salt", callSalt, "--funid", "CI00.01.00.03"},
			callInsuredInput, exitUsage, "bizkey is missing"},
		{"SM2 without keys", callArgs(url, "CI00.01.00.03", "--sign-type", "SM2"), callInsuredInput, exitUsage, "SM2 private key is missing"},
		{"RSA without keys", callArgs(url, "CI00.01.00.03", "--sign-type", "RSA"), callInsuredInput, exitUsage, "RSA private key is missing"},
		{"RSA key not PEM", callArgs(url, "CI00.01.00.03", "--sign-type", "RSA", "--rsa-private-key", "not a key", "--platform-rsa-public-key", rsaKeysForCall(t).platformPublic),
			callInsuredInput, exitUsage, "RSA private key is invalid"},
		{"RSA key file missing", callArgs(url, "CI00.01.00.03", "--sign-type", "RSA", "--rsa-private-key", "@"+filepath.Join(t.TempDir(), "absent.key")),
			callInsuredInput, exitUsage, "read --rsa-private-key"},
		{"derivation in clear", callArgs(url, "CI00.01.00.03", "--enc-type", "none", "--key-derivation", "salt-hex"), callInsuredInput, exitUsage, "enc type is none"},
		{"key file missing", callArgs(url, "CI00.01.00.03", "--private-key", "@"+filepath.Join(t.TempDir(), "absent.key")), callInsuredInput, exitUsage, "read --private-key"},
		{"empty input", callArgs(url, "CI00.01.00.03"), "", exitUsage, "standard input is empty"},
		{"input not an object", callArgs(url, "CI00.01.00.03"), `[1,2]`, exitUsage, "not one JSON object"},
		{"input not JSON", callArgs(url, "CI00.01.00.03"), `{"userlist":`, exitUsage, "not one JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFailure(t, run(t, tt.stdin, tt.args...), tt.code, tt.want)
		})
	}
}

func TestCallHelp(t *testing.T) {
	r := run(t, "", "call", "-h")
	wantSuccess(t, r)
	for _, flag := range []string{"--url", "--appid", "--appsecret", "--bizkey", "--salt", "--funid", "--sign-type",
		"--enc-type", "--key-derivation", "--token-mode", "--private-key", "--platform-public-key", "--rsa-private-key",
		"--platform-rsa-public-key", "--timeout"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("usage does not mention %s:\n%s", flag, r.stdout)
		}
	}
}
