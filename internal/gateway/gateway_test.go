package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/server"
	"chsgate/internal/servertest"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// Appids of the channels that startPlatform adds, one per setting under test.
const (
	appKey       = "hmbkey"   // key mode, SM3 signatures, SM4 encryption
	appToken     = "hmbtoken" // token mode
	appAnonymous = "hmbanon"  // anonymous mode, for the platform's own systems
	appDisabled  = "hmboff"   // disabled after it was added
	appNarrow    = "hmbnarrow"
	appSM2       = "hmbsm2"
	// appHSA has 20 characters, because the hsa profile derives its data
	// key from the first 16 bytes of the appid.
	appHSA = "HSA00000000000000001"
)

// platform is a running server over one backend with the channels of the
// tests and a synthetic registry.
type platform struct {
	*servertest.Platform
	logs requestLog
	// platformSM2 is the platform's SM2 public key of channel appSM2, as
	// channel add prints it.
	platformSM2 string
}

func startPlatform(t *testing.T, b storetest.Backend) *platform {
	t.Helper()
	p := &platform{Platform: servertest.NewPlatform(t, b)}
	configs := []channel.Config{
		servertest.FJSChannel(appKey, p.UserPublicKey),
		withMode(servertest.FJSChannel(appToken, p.UserPublicKey), store.ModeToken),
		withMode(servertest.FJSChannel(appAnonymous, p.UserPublicKey), store.ModeAnonymous),
		servertest.FJSChannel(appDisabled, p.UserPublicKey),
		withFunctions(servertest.FJSChannel(appNarrow, p.UserPublicKey), api.FunAuthPage),
		withSignType(servertest.FJSChannel(appSM2, p.UserPublicKey), protocol.SignSM2),
		hsaChannel(appHSA, p.UserPublicKey),
	}
	for _, c := range configs {
		added := p.AddChannel(t, c)
		if c.AppID == appSM2 {
			p.platformSM2 = servertest.SM2PublicKey(t, added.Secrets.PlatformSM2PrivateKey)
		}
	}
	if err := p.Channels.SetDisabled(t.Context(), appDisabled, true, p.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	p.Start(t, server.Config{InternalAddr: "127.0.0.1:0"})
	p.logs = requestLog{p.Logs}
	return p
}

// hsaChannel returns a channel of the national e-voucher layout, which
// signs with the appsecret and derives its data key from the appid.
func hsaChannel(appid, userPublicKey string) channel.Config {
	c := servertest.FJSChannel(appid, userPublicKey)
	c.Profile = protocol.ProfileHSA
	c.KeyDerivation = protocol.DeriveAppID
	c.Secrets = channel.Secrets{AppSecret: servertest.AppSecret}
	return c
}

func withMode(c channel.Config, mode store.SecurityMode) channel.Config {
	c.SecurityMode = mode
	return c
}

func withFunctions(c channel.Config, functions ...string) channel.Config {
	c.Functions = functions
	return c
}

func withSignType(c channel.Config, signType protocol.SignType) channel.Config {
	c.SignType = signType
	return c
}

// insuredNormally returns a synthetic employee insured normally, with a
// phone number, so the log checks have every kind of personal data to
// look for.
func (p *platform) insuredNormally(t *testing.T) store.PersonRecord {
	t.Helper()
	return p.Pick(t, func(person store.PersonRecord) bool {
		return person.InsuType == registry.InsuTypeEmployee && person.InsuStatus == registry.InsuStatusNormal && person.Phone != ""
	})
}

func insuredRequest(person store.PersonRecord) *api.InsuredRequest {
	return &api.InsuredRequest{UserList: []api.InsuredPerson{
		{Name: person.Name, IDCard: person.IDCard, CertType: person.CertType},
	}}
}

// wantInsured calls Insured for person and checks that the platform
// returns one result, insured.
func wantInsured(t *testing.T, client *sdk.Client, person store.PersonRecord) api.InsuredResult {
	t.Helper()
	resp, err := client.Insured(t.Context(), insuredRequest(person))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.List) != 1 {
		t.Fatalf("%d results, want 1", len(resp.List))
	}
	if resp.List[0].IsInsu != "1" {
		t.Errorf("is_insu %q, want 1", resp.List[0].IsInsu)
	}
	return resp.List[0]
}

func insuredPayload(t *testing.T, person store.PersonRecord) []byte {
	t.Helper()
	payload, err := json.Marshal(insuredRequest(person))
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// sealFJS builds an fjs request of appid in key mode, stamped at the
// platform's clock.
func (p *platform) sealFJS(t *testing.T, keys *protocol.Keys, appid, funid string, payload []byte) []byte {
	t.Helper()
	body, err := protocol.ProfileFJS.SealRequest(keys, &protocol.Request{
		AppID:     appid,
		AppSecret: servertest.AppSecret,
		FunID:     funid,
		Timestamp: protocol.ProfileFJS.FormatTimestamp(p.Clock.Now()),
		Payload:   payload,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// wantProtocolError checks that err is the protocol fault code with its
// standard message.
func wantProtocolError(t *testing.T, err error, code int) {
	t.Helper()
	var pe *sdk.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want protocol fault %d", err, code)
	}
	if pe.Code != code {
		t.Errorf("code %d (%s), want %d", pe.Code, pe.Message, code)
	}
	if want := protocol.FormatMessage(code); pe.Message != want {
		t.Errorf("message %q, want %q", pe.Message, want)
	}
}

func TestHSAProfileInsured(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			client := p.Client(t, appHSA, sdk.WithProfile(protocol.ProfileHSA))

			got := wantInsured(t, client, person)
			if got.Region != person.Region {
				t.Errorf("region %q, want %q", got.Region, person.Region)
			}
			if got.InsuTypeName != "职工基本医疗保险" {
				t.Errorf("insutypeName %q, want 职工基本医疗保险", got.InsuTypeName)
			}
			uid, err := client.DecryptUserID(got.UserID)
			if err != nil {
				t.Fatalf("user_id does not decrypt: %v", err)
			}
			if uid.IDCard != person.IDCard {
				t.Errorf("user_id idcard %q, want %q", uid.IDCard, person.IDCard)
			}
			if uid.Name != person.Name {
				t.Errorf("user_id name %q, want %q", uid.Name, person.Name)
			}
		})
	}
}

// The national platform issues 32-character appIds, such as the one in its
// published SM4 example below, while chs_fjs_appid is varchar(20).
func TestHSAChannelNationalAppID(t *testing.T) {
	const appID = "43AF047BBA47FC8A1AE8EFB232BDBBCB"
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			_, userPublic := servertest.SM2KeyPair(t)
			config := hsaChannel(appID, userPublic)
			config.Secrets.AppSecret = "4117E877F5FA0A0188891283E4B617D5"
			if _, err := servertest.NewRegistry(t, b.Store).Add(t.Context(), config, time.Now()); err != nil {
				t.Errorf("add hsa channel %s: %v", appID, err)
			}
		})
	}
}

func TestAnonymousChannel(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)

			t.Run("SDK internal", func(t *testing.T) {
				p.Clock.Advance(time.Second)
				client := p.ClientAt(t, p.InternalURL, appAnonymous)
				if _, err := client.Insured(t.Context(), insuredRequest(person)); err != nil {
					t.Errorf("error %v, want success", err)
				}
			})
			t.Run("SDK public", func(t *testing.T) {
				p.Clock.Advance(time.Second)
				client := p.Client(t, appAnonymous)
				_, err := client.Insured(t.Context(), insuredRequest(person))
				wantProtocolError(t, err, protocol.CodeAuthFailed)
			})

			// The platform's own systems send neither appsecret nor
			// signature, because on the internal listener the address is
			// the proof.
			unsigned := func(t *testing.T) []byte {
				body, err := protocol.ProfileFJS.SealRequest(servertest.Keys(t, appAnonymous, ""), &protocol.Request{
					AppID:     appAnonymous,
					FunID:     api.FunInsured,
					Timestamp: protocol.ProfileFJS.FormatTimestamp(p.Clock.Now()),
					Payload:   insuredPayload(t, person),
				})
				if err != nil {
					t.Fatal(err)
				}
				return body
			}
			cases := []struct {
				name string
				url  string
				code int
			}{
				{"unsigned internal", p.InternalURL, protocol.CodeOK},
				{"unsigned public", p.URL, protocol.CodeAuthFailed},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p.Clock.Advance(time.Second)
					env := servertest.PostFJS(t, c.url+"/gateway", unsigned(t))
					if env.Code != c.code {
						t.Errorf("code %d (%s), want %d", env.Code, env.Message, c.code)
					}
				})
			}
		})
	}
}

func TestChannelFaults(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			cases := []struct {
				name  string
				appid string
				opts  []sdk.Option
				code  int
			}{
				{"disabled", appDisabled, nil, protocol.CodeUnknownChannel},
				{"function not listed", appNarrow, nil, protocol.CodeFunctionDenied},
				{"clear to encrypting", appKey, []sdk.Option{sdk.WithEncType(protocol.EncNone)}, protocol.CodeCleartext},
				{"fjs channel at hsa", appKey, []sdk.Option{sdk.WithProfile(protocol.ProfileHSA), sdk.WithKeyDerivation("salt")}, protocol.CodeUnknownChannel},
				{"hsa channel at fjs", appHSA, []sdk.Option{sdk.WithProfile(protocol.ProfileFJS)}, protocol.CodeUnknownChannel},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					client := p.Client(t, c.appid, c.opts...)
					_, err := client.Insured(t.Context(), insuredRequest(person))
					wantProtocolError(t, err, c.code)
				})
			}
		})
	}
}

// TestRequestWithoutCiphertext sends an encrypting channel a request signed
// over its protocol fields alone. The business layer must not see it.
func TestRequestWithoutCiphertext(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			keys := *servertest.Keys(t, appKey, protocol.SignSM3)
			keys.Cipher = nil
			for _, funid := range []string{api.FunInsured, api.FunQuery} {
				t.Run(funid, func(t *testing.T) {
					p.Clock.Advance(time.Second)
					env := servertest.PostFJS(t, p.URL+"/gateway", p.sealFJS(t, &keys, appKey, funid, nil))
					if env.Code != protocol.CodeMissingField {
						t.Errorf("code %d (%s), want %d", env.Code, env.Message, protocol.CodeMissingField)
					}
					if want := "缺少协议参数【chs_fjs_encdata】"; env.Message != want {
						t.Errorf("message %q, want %q", env.Message, want)
					}
				})
			}
		})
	}
}

func TestAliasPath(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			keys := servertest.Keys(t, appKey, protocol.SignSM3)
			cases := []struct {
				name string
				path string
				code int
			}{
				{"same funid", "/gateway/" + api.FunInsured, protocol.CodeOK},
				{"other funid", "/gateway/" + api.FunAuthPage, protocol.CodeUnknownFunction},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p.Clock.Advance(time.Second)
					body := p.sealFJS(t, keys, appKey, api.FunInsured, insuredPayload(t, person))
					env := servertest.PostFJS(t, p.URL+c.path, body)
					if env.Code != c.code {
						t.Fatalf("code %d (%s), want %d", env.Code, env.Message, c.code)
					}
					if c.code != protocol.CodeOK {
						return
					}
					opened, err := env.Open(keys)
					if err != nil {
						t.Fatalf("response does not open: %v", err)
					}
					var resp api.InsuredResponse
					if err := json.Unmarshal(opened.Payload, &resp); err != nil {
						t.Fatalf("data %s: %v", opened.Payload, err)
					}
					if len(resp.List) != 1 {
						t.Errorf("%d results, want 1", len(resp.List))
					}
				})
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			keys := servertest.Keys(t, appKey, protocol.SignSM3)

			// padTo pads a sealed request with JSON whitespace after its
			// opening brace, which changes neither its fields nor its
			// signature.
			padTo := func(body []byte, size int) []byte {
				padded := make([]byte, 0, size)
				padded = append(padded, '{')
				padded = append(padded, bytes.Repeat([]byte(" "), size-len(body))...)
				return append(padded, body[1:]...)
			}
			cases := []struct {
				name string
				size int
				code int
			}{
				{"at limit", 1 << 20, protocol.CodeOK},
				{"one byte over", 1<<20 + 1, protocol.CodeTooLarge},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p.Clock.Advance(time.Second)
					body := padTo(p.sealFJS(t, keys, appKey, api.FunInsured, insuredPayload(t, person)), c.size)
					env := servertest.PostFJS(t, p.URL+"/gateway", body)
					if env.Code != c.code {
						t.Errorf("code %d (%s), want %d", env.Code, env.Message, c.code)
					}
				})
			}
		})
	}
}

// A Content-Length over the limit is rejected from the header alone. The
// client below sends a tiny body and waits, so a server that tried to read
// the declared bytes would never respond.
func TestContentLengthOverLimit(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			host := p.Addr.String()
			conn, err := net.DialTimeout("tcp", host, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			request := fmt.Sprintf("POST /gateway HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{}", host, 1<<20+1)
			if _, err := io.WriteString(conn, request); err != nil {
				t.Fatal(err)
			}

			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no response before the deadline: %v", err)
			}
			env := servertest.ReadFJSResponse(t, resp)
			if env.Code != protocol.CodeTooLarge {
				t.Errorf("code %d, want %d", env.Code, protocol.CodeTooLarge)
			}
			if want := protocol.FormatMessage(protocol.CodeTooLarge); env.Message != want {
				t.Errorf("message %q, want %q", env.Message, want)
			}
		})
	}
}

func TestTokenEndpoint(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			form := func(grantType, clientID, secret string) string {
				v := url.Values{"client_id": {clientID}, "client_secret": {secret}}
				if grantType != "" {
					v.Set("grant_type", grantType)
				}
				return v.Encode()
			}
			const formType = "application/x-www-form-urlencoded"
			cases := []struct {
				name        string
				contentType string
				body        string
				status      int
				oauthError  string // RFC 6749 §5.2 error code, "" for success
			}{
				{"form", formType, form("client_credentials", appToken, servertest.AppSecret), http.StatusOK, ""},
				{"JSON body", "application/json", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, appToken, servertest.AppSecret), http.StatusOK, ""},
				{"wrong secret", formType, form("client_credentials", appToken, "wrong"), http.StatusUnauthorized, "invalid_client"},
				{"unknown client", formType, form("client_credentials", "nobody", servertest.AppSecret), http.StatusUnauthorized, "invalid_client"},
				// The client authenticated, so saying that its grant is
				// not allowed reveals nothing it does not know.
				{"key-mode channel", formType, form("client_credentials", appKey, servertest.AppSecret), http.StatusBadRequest, "unauthorized_client"},
				{"wrong grant_type", formType, form("password", appToken, servertest.AppSecret), http.StatusBadRequest, "unsupported_grant_type"},
				{"no grant_type", formType, form("", appToken, servertest.AppSecret), http.StatusBadRequest, "invalid_request"},
				{"JSON not an object", "application/json", `["client_credentials"]`, http.StatusBadRequest, "invalid_request"},
				{"JSON value not a string", "application/json", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":{"x":1}}`, appToken), http.StatusBadRequest, "invalid_request"},
				{"JSON data after the object", "application/json", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q} {}`, appToken, servertest.AppSecret), http.StatusBadRequest, "invalid_request"},
				// Each parameter may appear once (RFC 6749 §3.2), in either
				// encoding, whichever value comes first.
				{"JSON grant_type twice", "application/json", fmt.Sprintf(`{"grant_type":"password","client_id":%q,"client_secret":%q,"grant_type":"client_credentials"}`, appToken, servertest.AppSecret), http.StatusBadRequest, "invalid_request"},
				{"form grant_type twice", formType, form("client_credentials", appToken, servertest.AppSecret) + "&grant_type=password", http.StatusBadRequest, "invalid_request"},
				// encoding/json would read invalid UTF-8 as U+FFFD, and a
				// percent escape can decode to it.
				{"JSON client_id not UTF-8", "application/json", `{"grant_type":"client_credentials","client_id":"tok` + "\xff" + `ch","client_secret":"x"}`, http.StatusBadRequest, "invalid_request"},
				{"form client_id not UTF-8", formType, "grant_type=client_credentials&client_id=tok%FFch&client_secret=x", http.StatusBadRequest, "invalid_request"},
				{"JSON client_id lone surrogate", "application/json", `{"grant_type":"client_credentials","client_id":"tok\udcffch","client_secret":"x"}`, http.StatusBadRequest, "invalid_request"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					resp, err := http.Post(p.URL+"/oauth/token", c.contentType, strings.NewReader(c.body))
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					var got struct {
						AccessToken string `json:"access_token"`
						TokenType   string `json:"token_type"`
						ExpiresIn   int    `json:"expires_in"`
						Error       string `json:"error"`
					}
					if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
						t.Fatalf("body is not JSON: %v", err)
					}
					if resp.StatusCode != c.status {
						t.Errorf("HTTP %d, want %d", resp.StatusCode, c.status)
					}
					if got.Error != c.oauthError {
						t.Errorf("error %q, want %q", got.Error, c.oauthError)
					}
					if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
						t.Errorf("Cache-Control %q, want no-store", cc)
					}
					if c.oauthError != "" {
						return
					}
					if got.TokenType != "Bearer" {
						t.Errorf("token_type %q, want Bearer", got.TokenType)
					}
					if got.ExpiresIn != 7200 {
						t.Errorf("expires_in %d, want 7200", got.ExpiresIn)
					}
					p.Clock.Advance(time.Second)
					body, err := protocol.ProfileFJS.SealRequest(servertest.Keys(t, appToken, protocol.SignSM3), &protocol.Request{
						AppID:     appToken,
						Token:     got.AccessToken,
						FunID:     api.FunInsured,
						Timestamp: protocol.ProfileFJS.FormatTimestamp(p.Clock.Now()),
						Payload:   insuredPayload(t, p.insuredNormally(t)),
					})
					if err != nil {
						t.Fatal(err)
					}
					if env := servertest.PostFJS(t, p.URL+"/gateway", body); env.Code != protocol.CodeOK {
						t.Errorf("request with the token: code %d (%s), want 0", env.Code, env.Message)
					}
				})
			}
		})
	}
}

// TestReplayWindow sends the same bytes again as time passes. The sign
// string includes the timestamp, so the same request can never pass again
// once its timestamp is out of the window, and until then it is a replay.
func TestReplayWindow(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			keys := servertest.Keys(t, appKey, protocol.SignSM3)
			sent := p.Clock.Now()
			body := p.sealFJS(t, keys, appKey, api.FunInsured, insuredPayload(t, person))
			if env := servertest.PostFJS(t, p.URL+"/gateway", body); env.Code != protocol.CodeOK {
				t.Fatalf("first request: code %d (%s)", env.Code, env.Message)
			}

			window := protocol.DefaultTimestampWindow
			cases := []struct {
				name  string
				after time.Duration
				code  int
			}{
				{"at once", 0, protocol.CodeReplay},
				{"inside window", window - time.Second, protocol.CodeReplay},
				// Exactly the window apart is inside it.
				{"window edge", window, protocol.CodeReplay},
				{"after window", window + time.Millisecond, protocol.CodeBadTimestamp},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p.Clock.Set(sent.Add(c.after))
					env := servertest.PostFJS(t, p.URL+"/gateway", body)
					if env.Code != c.code {
						t.Errorf("code %d (%s), want %d", env.Code, env.Message, c.code)
					}
				})
			}

			t.Run("restamped after window", func(t *testing.T) {
				p.Clock.Set(sent.Add(window + time.Second))
				restamped := p.sealFJS(t, keys, appKey, api.FunInsured, insuredPayload(t, person))
				if env := servertest.PostFJS(t, p.URL+"/gateway", restamped); env.Code != protocol.CodeOK {
					t.Errorf("code %d (%s), want 0", env.Code, env.Message)
				}
			})
		})
	}
}

func TestSM2Channel(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			otherPrivate, err := channel.GenerateSM2KeyHex()
			if err != nil {
				t.Fatal(err)
			}
			sm2Client := func(t *testing.T, channelPrivate, platformPublic string) *sdk.Client {
				return p.Client(t, appSM2,
					sdk.WithSignType(protocol.SignSM2),
					sdk.WithSM2PrivateKey(channelPrivate),
					sdk.WithPlatformPublicKey(platformPublic))
			}

			t.Run("keys of channel add", func(t *testing.T) {
				p.Clock.Advance(time.Second)
				wantInsured(t, sm2Client(t, p.UserKey, p.platformSM2), person)
			})
			t.Run("other channel key", func(t *testing.T) {
				p.Clock.Advance(time.Second)
				client := sm2Client(t, otherPrivate, p.platformSM2)
				_, err := client.Insured(t.Context(), insuredRequest(person))
				wantProtocolError(t, err, protocol.CodeBadSignature)
			})
			t.Run("other platform key", func(t *testing.T) {
				p.Clock.Advance(time.Second)
				client := sm2Client(t, p.UserKey, servertest.SM2PublicKey(t, otherPrivate))
				_, err := client.Insured(t.Context(), insuredRequest(person))
				var ve *sdk.VerificationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %v, want a verification error", err)
				}
				if code := protocol.CodeOf(ve.Err); code != protocol.CodeBadSignature {
					t.Errorf("verification code %d, want %d", code, protocol.CodeBadSignature)
				}
			})
		})
	}
}

// addRSAChannel adds channel c with sign type RSA and the channel's RSA
// public key to the platform's store, as channel add does, and returns the
// platform's RSA public key in PEM.
func (p *platform) addRSAChannel(t *testing.T, c channel.Config, channelPublicPEM string) string {
	t.Helper()
	c = withSignType(c, protocol.SignRSA)
	c.RSAPublicKey = channelPublicPEM
	added := p.AddChannel(t, c)
	key, err := protocol.ParseRSAPrivateKey(added.Secrets.PlatformRSAPrivateKey)
	if err != nil {
		t.Fatalf("platform RSA key of channel %s: %v", c.AppID, err)
	}
	platformPublic, err := channel.RSAPublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return platformPublic
}

// rsaKeyPairPEM returns a new 2048-bit RSA key pair: the private key as PEM
// (PKCS #8) and the public key as PEM (PKIX).
func rsaKeyPairPEM(t *testing.T) (privatePEM, publicPEM string) {
	t.Helper()
	privatePEM, err := channel.GenerateRSAKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	key, err := protocol.ParseRSAPrivateKey(privatePEM)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM, err = channel.RSAPublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return privatePEM, publicPEM
}

// TestRSAChannel signs requests, responses and their checks with RSA, in
// both envelope profiles.
func TestRSAChannel(t *testing.T) {
	channelPrivate, channelPublic := rsaKeyPairPEM(t)
	otherPrivate, otherPublic := rsaKeyPairPEM(t)
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			for _, profile := range []protocol.Profile{protocol.ProfileFJS, protocol.ProfileHSA} {
				t.Run(profile.String(), func(t *testing.T) {
					testRSAChannel(t, p, profile, person, channelPrivate, channelPublic, otherPrivate, otherPublic)
				})
			}
		})
	}
}

func testRSAChannel(t *testing.T, p *platform, profile protocol.Profile, person store.PersonRecord, channelPrivate, channelPublic, otherPrivate, otherPublic string) {
	appRSA, config, opts := "hmbrsa", servertest.FJSChannel("hmbrsa", p.UserPublicKey), []sdk.Option(nil)
	if profile == protocol.ProfileHSA {
		appRSA = "HSARSA00000000000001"
		config, opts = hsaChannel(appRSA, p.UserPublicKey), []sdk.Option{sdk.WithProfile(protocol.ProfileHSA)}
	}
	platformPublic := p.addRSAChannel(t, config, channelPublic)
	rsaClient := func(t *testing.T, channelPrivate, platformPublic string) *sdk.Client {
		return p.Client(t, appRSA, append(opts[:len(opts):len(opts)],
			sdk.WithSignType(protocol.SignRSA),
			sdk.WithRSAPrivateKey(channelPrivate),
			sdk.WithPlatformRSAPublicKey(platformPublic))...)
	}

	t.Run("keys of channel add", func(t *testing.T) {
		p.Clock.Advance(time.Second)
		client := rsaClient(t, channelPrivate, platformPublic)
		got := wantInsured(t, client, person)
		// user_id stays encrypted to the channel's SM2 key.
		userID, err := client.DecryptUserID(got.UserID)
		if err != nil {
			t.Fatalf("DecryptUserID: %v", err)
		}
		if userID.IDCard != person.IDCard {
			t.Errorf("user_id idcard %q, want %q", userID.IDCard, person.IDCard)
		}
	})
	t.Run("other channel key", func(t *testing.T) {
		p.Clock.Advance(time.Second)
		client := rsaClient(t, otherPrivate, platformPublic)
		_, err := client.Insured(t.Context(), insuredRequest(person))
		wantProtocolError(t, err, protocol.CodeBadSignature)
	})
	t.Run("SM3 signature", func(t *testing.T) {
		p.Clock.Advance(time.Second)
		client := p.Client(t, appRSA, opts...)
		_, err := client.Insured(t.Context(), insuredRequest(person))
		wantProtocolError(t, err, protocol.CodeBadSignature)
	})
	t.Run("other platform key", func(t *testing.T) {
		p.Clock.Advance(time.Second)
		client := rsaClient(t, channelPrivate, otherPublic)
		_, err := client.Insured(t.Context(), insuredRequest(person))
		var ve *sdk.VerificationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v, want a verification error", err)
		}
		if code := protocol.CodeOf(ve.Err); code != protocol.CodeBadSignature {
			t.Errorf("verification code %d, want %d", code, protocol.CodeBadSignature)
		}
	})
}

func TestRequestLogLines(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			person := p.insuredNormally(t)
			ids := &requestIDs{}
			httpClient := &http.Client{Transport: ids, Timeout: 30 * time.Second}
			call := func(appid string, request *api.InsuredRequest, opts ...sdk.Option) func(t *testing.T) {
				return func(t *testing.T) {
					opts = append(opts, sdk.WithHTTPClient(httpClient))
					// The result is checked by the code of the log line.
					_, _ = p.Client(t, appid, opts...).Insured(t.Context(), request)
				}
			}
			mismatch := insuredRequest(person)
			mismatch.UserList[0].CertType = "16"
			badCheckDigit := insuredRequest(person)
			badCheckDigit.UserList[0].IDCard = servertest.FlipCheckDigit(person.IDCard)

			cases := []struct {
				name    string
				send    func(t *testing.T)
				profile string
				appid   string
				code    int
			}{
				{"success", call(appKey, insuredRequest(person)), "fjs", appKey, protocol.CodeOK},
				{"hsa success", call(appHSA, insuredRequest(person), sdk.WithProfile(protocol.ProfileHSA)), "hsa", appHSA, protocol.CodeOK},
				{"business error", call(appKey, mismatch), "fjs", appKey, protocol.CodeCertTypeMismatch},
				{"bad ID number", call(appKey, badCheckDigit), "fjs", appKey, protocol.CodeBadField},
				{"wrong appsecret", call(appKey, insuredRequest(person), sdk.WithCredentials("wrong-secret", servertest.BizKey, servertest.Salt)), "fjs", appKey, protocol.CodeAuthFailed},
				// Last, because the registry stays unreadable afterwards.
				{"database failure", func(t *testing.T) {
					if _, err := b.DB.Exec("ALTER TABLE persons RENAME TO persons_hidden"); err != nil {
						t.Fatal(err)
					}
					call(appKey, insuredRequest(person))(t)
				}, "fjs", appKey, protocol.CodeInternal},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p.Clock.Advance(time.Second)
					before := p.logs.lineCount()
					c.send(t)
					id := ids.last()
					if id == "" {
						t.Fatal("response has no X-Request-Id")
					}
					line := p.logs.waitFor(t, id)
					if n := p.logs.requestLinesSince(before); n != 1 {
						t.Errorf("%d request log lines, want 1:\n%s", n, p.logs.since(before))
					}
					if got := line["msg"]; got != "request" {
						t.Errorf("msg %v, want request", got)
					}
					if got := line["profile"]; got != c.profile {
						t.Errorf("profile %v, want %s", got, c.profile)
					}
					if got := line["appid"]; got != c.appid {
						t.Errorf("appid %v, want %s", got, c.appid)
					}
					if got := line["funid"]; got != api.FunInsured {
						t.Errorf("funid %v, want %s", got, api.FunInsured)
					}
					if got, ok := line["code"].(float64); !ok || int(got) != c.code {
						t.Errorf("code %v, want %d", line["code"], c.code)
					}
					if _, ok := line["duration"].(float64); !ok {
						t.Errorf("duration %v, want a number", line["duration"])
					}
				})
			}

			t.Run("token request", func(t *testing.T) {
				before := p.logs.lineCount()
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {appToken}, "client_secret": {servertest.AppSecret}}
				resp, err := httpClient.PostForm(p.URL+"/oauth/token", form)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				line := p.logs.waitFor(t, ids.last())
				if n := p.logs.requestLinesSince(before); n != 1 {
					t.Errorf("%d request log lines, want 1:\n%s", n, p.logs.since(before))
				}
				if got := line["appid"]; got != appToken {
					t.Errorf("appid %v, want %s", got, appToken)
				}
				for _, key := range []string{"funid", "code", "duration"} {
					if _, ok := line[key]; !ok {
						t.Errorf("line has no %s: %v", key, line)
					}
				}
			})

			logs := p.logs.String()
			// The check matches the first 17 characters of the ID number,
			// which also finds the number with the wrong check digit that
			// one request sent.
			servertest.CheckNoPersonalData(t, logs, person)
			secrets := []struct{ name, value string }{
				{"appsecret", servertest.AppSecret},
				{"bizkey", servertest.BizKey},
				{"salt", servertest.Salt},
			}
			for _, s := range secrets {
				if strings.Contains(logs, s.value) {
					t.Errorf("log contains the %s %q", s.name, s.value)
				}
			}
		})
	}
}

// requestIDs is an HTTP transport that records the X-Request-Id of each
// response, which ties it to its log line.
type requestIDs struct {
	transport http.Transport
	mu        sync.Mutex
	id        string
}

func (r *requestIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.transport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.id = resp.Header.Get("X-Request-Id")
		r.mu.Unlock()
	}
	return resp, err
}

func (r *requestIDs) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id
}

// requestLog reads the server's JSON log lines by request.
type requestLog struct{ *servertest.LogBuffer }

func (l requestLog) lines() []string {
	return strings.Split(strings.TrimSuffix(l.String(), "\n"), "\n")
}

func (l requestLog) lineCount() int {
	return strings.Count(l.String(), "\n")
}

// requestLinesSince counts the lines after the first n that belong to a
// request; the outbox worker logs beside them on its own schedule.
func (l requestLog) requestLinesSince(n int) int {
	count := 0
	for _, line := range l.lines()[n:] {
		if strings.Contains(line, `"request_id"`) {
			count++
		}
	}
	return count
}

// since returns the lines after the first n, for failure messages.
func (l requestLog) since(n int) string {
	return strings.Join(l.lines()[n:], "\n")
}

// waitFor returns the log line with this request_id. The gateway writes it
// after the response, so it may lag the client by a moment.
func (l requestLog) waitFor(t *testing.T, requestID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, text := range l.lines() {
			var line map[string]any
			if err := json.Unmarshal([]byte(text), &line); err != nil {
				continue
			}
			if line["request_id"] == requestID {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with request_id %s after 5 s:\n%s", requestID, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLongIDsLogBounded sends a huge appid or funid, which anyone can do
// without credentials, and checks that the request's log line stays short.
func TestLongIDsLogBounded(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPlatform(t, b)
			huge := strings.Repeat("A", 200_000)
			message := func(appid, funid string) string {
				stamp := p.Clock.Now().UnixMilli()
				return fmt.Sprintf(`{"chs_fjs_appid":%q,"chs_fjs_appsecret":"x","chs_fjs_funid":%q,"chs_fjs_timestamp":%d}`, appid, funid, stamp)
			}
			cases := []struct {
				name string
				path string
				body string
				code int
			}{
				{"appid", "/gateway", message(huge, api.FunInsured), protocol.CodeUnknownChannel},
				{"funid", "/gateway", message(appKey, huge), protocol.CodeUnknownFunction},
				// The token endpoint reads at most 8 KiB.
				{"token client_id", "/oauth/token", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":"x"}`, huge[:7000]), 0},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					resp, err := http.Post(p.URL+c.path, "application/json", strings.NewReader(c.body))
					if err != nil {
						t.Fatal(err)
					}
					data, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					if c.code != 0 {
						env, err := protocol.ProfileFJS.DecodeResponse(data)
						if err != nil {
							t.Fatalf("response %.200s does not decode: %v", data, err)
						}
						if env.Code != c.code {
							t.Errorf("code %d (%s), want %d", env.Code, env.Message, c.code)
						}
					}
					line, err := json.Marshal(p.logs.waitFor(t, resp.Header.Get("X-Request-Id")))
					if err != nil {
						t.Fatal(err)
					}
					if len(line) > 2000 {
						t.Errorf("log line has %d bytes, want at most 2000: %.300s", len(line), line)
					}
					if !bytes.Contains(line, []byte("bytes)")) {
						t.Errorf("log line does not note the cut value's length: %.300s", line)
					}
				})
			}
		})
	}
}
