package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/cli"
	"chsgate/internal/registry"
	"chsgate/internal/server"
	"chsgate/internal/store"
	"chsgate/internal/store/postgres"
	"chsgate/internal/store/sqlite"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// The channels the tests add: one in key mode, one in token mode.
const (
	keyAppID     = "hmbkey"
	tokenAppID   = "hmbtoken"
	testSecret   = "0123456789abcdef0123456789abcdef"
	testBizKey   = "bizkey-for-tests"
	testSalt     = "fedcba9876543210fedcba9876543210"
	testOrgCode  = "ORG001"
	testService  = "SVC001"
	testMasterKy = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

// testEnv is a running server over one backend, with the registry seeded.
type testEnv struct {
	backend   storetest.Backend
	url       string
	now       *testClock
	redirects string // base URL of a loopback server that stands in for the third party's pages
	sm2Priv   string // the channels' SM2 private key, to decrypt user_id
	sm2Pub    string
	persons   []store.PersonRecord
}

func startEnv(t *testing.T, b storetest.Backend) *testEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	env := &testEnv{backend: b, now: newTestClock(now)}
	env.redirects = startRedirectTarget(t)

	masterKey, err := channel.ParseMasterKey(testMasterKy)
	if err != nil {
		t.Fatal(err)
	}
	channels, err := channel.NewRegistry(b.Store, masterKey)
	if err != nil {
		t.Fatal(err)
	}
	env.sm2Priv, err = channel.GenerateSM2KeyHex()
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := protocol.ParseSM2PrivateKey(env.sm2Priv)
	env.sm2Pub = channel.SM2PublicKeyHex(&priv.PublicKey)
	for _, c := range []struct {
		appid string
		mode  store.SecurityMode
	}{{keyAppID, store.ModeKey}, {tokenAppID, store.ModeToken}} {
		_, err := channels.Add(ctx, channel.Config{
			AppID: c.appid, OrgCode: testOrgCode, ServiceID: testService,
			Profile: protocol.ProfileFJS, SignType: protocol.SignSM3, EncType: protocol.EncSM4,
			KeyDerivation: protocol.DeriveSalt, SecurityMode: c.mode, SM2PublicKey: env.sm2Pub,
			AllowedHosts: []string{"127.0.0.1"},
			Secrets:      channel.Secrets{AppSecret: testSecret, BizKey: testBizKey, Salt: testSalt},
		}, now)
		if err != nil {
			t.Fatalf("add channel %s: %v", c.appid, err)
		}
	}
	env.persons = registry.Synthetic(7)
	if _, err := b.Store.ImportPersons(ctx, env.persons, now); err != nil {
		t.Fatalf("import persons: %v", err)
	}

	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{
			Store:     b.Store,
			MasterKey: masterKey,
			Addr:      "127.0.0.1:0",
			Sandbox:   true,
			Now:       env.now.Now,
			Ready:     func(public, _ net.Addr) { ready <- "http://" + public.String() },
		})
	}()
	select {
	case env.url = <-ready:
	case err := <-done:
		t.Fatalf("server stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready after 20 s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	return env
}

func (e *testEnv) client(t *testing.T, appid string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	opts = append([]sdk.Option{
		sdk.WithCredentials(testSecret, testBizKey, testSalt),
		sdk.WithSignType(protocol.SignSM3),
		sdk.WithEncType(protocol.EncSM4),
		sdk.WithSM2PrivateKey(e.sm2Priv),
		sdk.WithClock(e.now.Now),
	}, opts...)
	c, err := sdk.New(e.url, appid, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pick returns the first synthetic person that matches.
func (e *testEnv) pick(t *testing.T, match func(store.PersonRecord) bool) store.PersonRecord {
	t.Helper()
	for _, p := range e.persons {
		if match(p) {
			return p
		}
	}
	t.Fatal("no synthetic person matches")
	return store.PersonRecord{}
}

func TestInsuredThroughSDK(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			employee := env.pick(t, func(p store.PersonRecord) bool {
				return p.InsuType == registry.InsuTypeEmployee && p.InsuStatus == registry.InsuStatusNormal
			})
			resident := env.pick(t, func(p store.PersonRecord) bool {
				return p.InsuType == registry.InsuTypeResident && p.InsuStatus == registry.InsuStatusNormal && p.CompanyName != ""
			})
			suspended := env.pick(t, func(p store.PersonRecord) bool { return p.InsuStatus == registry.InsuStatusSuspended })
			otherRegion := "350100"
			if employee.Region == otherRegion {
				otherRegion = "350200"
			}
			request := &api.InsuredRequest{UserList: []api.InsuredPerson{
				{Name: employee.Name, IDCard: employee.IDCard, CertType: "01"},
				{Name: resident.Name, IDCard: resident.IDCard, CertType: "01", Region: resident.Region},
				{Name: suspended.Name, IDCard: suspended.IDCard, CertType: "01"},
				{Name: employee.Name, IDCard: employee.IDCard, CertType: "01", Region: otherRegion},
				{Name: "王二", IDCard: "650101198001010032", CertType: "01"},
				{Name: "不是本人", IDCard: employee.IDCard, CertType: "01"},
			}}

			for _, mode := range []struct {
				name  string
				appid string
				opts  []sdk.Option
			}{{"key", keyAppID, nil}, {"token", tokenAppID, []sdk.Option{sdk.WithTokenMode(true)}}} {
				t.Run(mode.name, func(t *testing.T) {
					client := env.client(t, mode.appid, mode.opts...)
					resp, err := client.Insured(context.Background(), request)
					if err != nil {
						t.Fatal(err)
					}
					if len(resp.List) != len(request.UserList) {
						t.Fatalf("%d results for %d persons", len(resp.List), len(request.UserList))
					}
					want := []struct{ region, isInsu, insutypeName, companyName string }{
						{employee.Region, "1", "职工基本医疗保险", ""},
						{resident.Region, "1", "城乡居民基本医疗保险", resident.CompanyName},
						{suspended.Region, "0", insuTypeName(suspended.InsuType), ""},
						{otherRegion, "0", "职工基本医疗保险", ""},
						{"", "0", "", ""},
						{"", "0", "", ""},
					}
					for i, w := range want {
						got := resp.List[i]
						if got.Region != w.region || got.IsInsu != w.isInsu || got.InsuTypeName != w.insutypeName || got.CompanyName != w.companyName {
							t.Errorf("person %d: got region %q is_insu %q insutypeName %q companyName %q, want %q %q %q %q",
								i, got.Region, got.IsInsu, got.InsuTypeName, got.CompanyName, w.region, w.isInsu, w.insutypeName, w.companyName)
						}
						uid, err := client.DecryptUserID(got.UserID)
						if err != nil {
							t.Errorf("person %d: user_id does not decrypt: %v", i, err)
							continue
						}
						asked := request.UserList[i]
						if uid.IDCard != asked.IDCard || uid.Name != asked.Name || uid.CertType != asked.CertType {
							t.Errorf("person %d: user_id holds %+v", i, uid)
						}
					}
				})
			}
		})
	}
}

func insuTypeName(code string) string {
	name, _ := registry.InsuTypes().Name(code)
	return name
}

func TestInsuredBusinessErrors(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.client(t, keyAppID)
			person := env.persons[0]
			cases := []struct {
				name   string
				person api.InsuredPerson
				code   int
			}{
				{"no cert type", api.InsuredPerson{Name: person.Name, IDCard: person.IDCard}, protocol.CodeCertTypeEmpty},
				{"no name", api.InsuredPerson{IDCard: person.IDCard, CertType: "01"}, protocol.CodeNameEmpty},
				{"no idcard", api.InsuredPerson{Name: person.Name, CertType: "01"}, protocol.CodeIDNumberEmpty},
				{"cert type differs", api.InsuredPerson{Name: person.Name, IDCard: person.IDCard, CertType: "16"}, protocol.CodeCertTypeMismatch},
				{"bad check digit", api.InsuredPerson{Name: person.Name, IDCard: flipCheckDigit(person.IDCard), CertType: "01"}, protocol.CodeBadField},
				{"unknown region", api.InsuredPerson{Name: person.Name, IDCard: person.IDCard, CertType: "01", Region: "110100"}, protocol.CodeBadField},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					_, err := client.Insured(context.Background(), &api.InsuredRequest{UserList: []api.InsuredPerson{c.person}})
					var be *sdk.BusinessError
					if !errors.As(err, &be) {
						t.Fatalf("error %v, want a business error %d", err, c.code)
					}
					if be.Code != c.code {
						t.Errorf("code %d (%s), want %d", be.Code, be.Message, c.code)
					}
				})
			}
			_, err := client.Insured(context.Background(), &api.InsuredRequest{})
			if sdk.Code(err) != protocol.CodePaylistEmpty {
				t.Errorf("empty userlist: %v, want %d", err, protocol.CodePaylistEmpty)
			}
		})
	}
}

func flipCheckDigit(idcard string) string {
	last := idcard[len(idcard)-1]
	next := byte('0')
	if last == '0' {
		next = '1'
	}
	return idcard[:len(idcard)-1] + string(next)
}

// businessRows counts the rows of the registry and ledger tables, which no
// rejected request may change.
func businessRows(t *testing.T, db *sql.DB) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"persons", "accounts", "movements", "entries", "tokens", "request_replay"} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(parts, " ")
}

func TestProtocolFaultsOverHTTP(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			keys, err := protocol.NewKeys(protocol.KeyConfig{
				SignType: protocol.SignSM3, SignKey: testBizKey, EncType: protocol.EncSM4,
				Secrets: protocol.ChannelSecrets{AppID: keyAppID, AppSecret: testSecret, Salt: testSalt},
			})
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte(fmt.Sprintf(`{"userlist":[{"name":%q,"idcard":%q,"cert_type":"01"}]}`, env.persons[0].Name, env.persons[0].IDCard))
			seal := func(appid, secret, funid string, at time.Time) []byte {
				body, err := protocol.ProfileFJS.SealRequest(keys, &protocol.Request{
					AppID: appid, AppSecret: secret, FunID: funid,
					Timestamp: protocol.ProfileFJS.FormatTimestamp(at), Payload: payload,
				})
				if err != nil {
					t.Fatal(err)
				}
				return body
			}
			start := env.now.Now()
			good := seal(keyAppID, testSecret, api.FunInsured, start)
			badSignature := bytes.Replace(seal(keyAppID, testSecret, api.FunInsured, start.Add(time.Second)),
				[]byte(`"chs_fjs_sign":"`), []byte(`"chs_fjs_sign":"0`), 1)

			// A token that has expired: issue one, then move the clock on.
			tokenBody := postForm(t, env.url+"/oauth/token", "grant_type=client_credentials&client_id="+tokenAppID+"&client_secret="+testSecret)
			var token struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
			}
			if err := json.Unmarshal(tokenBody, &token); err != nil || token.AccessToken == "" {
				t.Fatalf("token response %s: %v", tokenBody, err)
			}
			later := start.Add(time.Duration(token.ExpiresIn+1) * time.Second)
			expiredToken, err := protocol.ProfileFJS.SealRequest(keys, &protocol.Request{
				AppID: tokenAppID, Token: token.AccessToken, FunID: api.FunInsured,
				Timestamp: protocol.ProfileFJS.FormatTimestamp(later), Payload: payload,
			})
			if err != nil {
				t.Fatal(err)
			}

			// The first good request succeeds, so its replay is one.
			if code := postEnvelope(t, env.url+"/gateway", good); code != 0 {
				t.Fatalf("good request answered %d", code)
			}
			before := businessRows(t, b.DB)

			cases := []struct {
				name string
				body []byte
				path string
				at   time.Time
				code int
			}{
				{"unknown appid", seal("nobody", testSecret, api.FunInsured, start), "/gateway", start, protocol.CodeUnknownChannel},
				{"wrong secret", seal(keyAppID, "wrong", api.FunInsured, start), "/gateway", start, protocol.CodeAuthFailed},
				{"expired token", expiredToken, "/gateway", later, protocol.CodeAuthFailed},
				{"bad signature", badSignature, "/gateway", start, protocol.CodeBadSignature},
				{"replay", good, "/gateway", start, protocol.CodeReplay},
				{"stale timestamp", seal(keyAppID, testSecret, api.FunInsured, start.Add(-601*time.Second)), "/gateway", start, protocol.CodeBadTimestamp},
				{"unknown funid", seal(keyAppID, testSecret, "CI09.09.09.09", start), "/gateway", start, protocol.CodeUnknownFunction},
				{"alias differs", seal(keyAppID, testSecret, api.FunInsured, start.Add(2*time.Second)), "/gateway/CI00.02.00.08", start, protocol.CodeUnknownFunction},
				{"2 MiB body", bytes.Repeat([]byte(" "), 2<<20), "/gateway", start, protocol.CodeTooLarge},
				{"invalid JSON", []byte(`{"chs_fjs_appid":`), "/gateway", start, protocol.CodeMalformed},
				{"non-UTF-8 body", []byte("{\"chs_fjs_appid\":\"\xff\"}"), "/gateway", start, protocol.CodeMalformed},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					env.now.Set(c.at)
					if code := postEnvelope(t, env.url+c.path, c.body); code != c.code {
						t.Errorf("code %d, want %d", code, c.code)
					}
				})
			}
			if after := businessRows(t, b.DB); after != before {
				t.Errorf("rejected requests changed the tables:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// postEnvelope posts body and returns the code of the answer, checking that
// it is a protocol fault or a success in the fjs layout.
func postEnvelope(t *testing.T, url string, body []byte) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, data)
	}
	env, err := protocol.ProfileFJS.DecodeResponse(data)
	if err != nil {
		t.Fatalf("answer %s does not decode: %v", data, err)
	}
	return env.Code
}

func postForm(t *testing.T, url, form string) []byte {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, data)
	}
	return data
}

// TestCommandsEndToEnd drives the same path through the command line: the
// channel and the persons go in with chsgate channel add and chsgate import
// persons, and CI00.01.00.03 goes out with chsgate call.
func TestCommandsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "chsgate.db")
	if url, ok := storetest.PostgresURL(t); ok {
		dsn = url
	}
	t.Setenv("CHSGATE_MASTER_KEY", testMasterKy)
	run := func(stdin string, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if status := cli.Run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr); status != 0 {
			t.Fatalf("chsgate %s: exit %d: %s", strings.Join(args, " "), status, stderr.String())
		}
		return stdout.String()
	}

	run("", "migrate", "--db", dsn)
	privateHex, _ := channel.GenerateSM2KeyHex()
	priv, _ := protocol.ParseSM2PrivateKey(privateHex)
	run("", "channel", "add", "--db", dsn, "--appid", keyAppID, "--appsecret", testSecret, "--bizkey", testBizKey,
		"--salt", testSalt, "--org-code", testOrgCode, "--service-id", testService,
		"--sm2-public-key", channel.SM2PublicKeyHex(&priv.PublicKey), "--allow-host", "127.0.0.1")

	persons := registry.Synthetic(11)
	var jsonl bytes.Buffer
	if err := registry.WritePersons(&jsonl, persons); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "persons.jsonl")
	if err := os.WriteFile(file, jsonl.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run("", "import", "persons", "--db", dsn, file); !strings.Contains(out, fmt.Sprintf("%d new", len(persons))) {
		t.Errorf("import printed %q", out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	st := openForServer(t, dsn)
	go func() {
		done <- server.Run(ctx, server.Config{
			Store: st, MasterKey: mustHex(t, testMasterKy), Addr: "127.0.0.1:0",
			Ready: func(public, _ net.Addr) { ready <- "http://" + public.String() },
		})
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	}
	defer func() { cancel(); <-done }()

	person := persons[0]
	request := fmt.Sprintf(`{"userlist":[{"name":%q,"idcard":%q,"cert_type":%q}]}`, person.Name, person.IDCard, person.CertType)
	out := run(request, "call", "--url", url, "--appid", keyAppID, "--appsecret", testSecret, "--bizkey", testBizKey,
		"--salt", testSalt, "--funid", api.FunInsured, "--private-key", privateHex)
	var resp api.InsuredResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("call printed %q: %v", out, err)
	}
	if len(resp.List) != 1 || resp.List[0].Region != person.Region {
		t.Errorf("call answered %+v, want one entry for region %s", resp, person.Region)
	}
}

// openForServer opens the database the commands wrote, as chsgate serve
// would.
func openForServer(t *testing.T, dsn string) store.Store {
	t.Helper()
	var st store.Store
	var err error
	if strings.HasPrefix(dsn, "postgres") {
		st, err = postgres.Open(context.Background(), dsn)
	} else {
		st, err = sqlite.Open(context.Background(), dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testClock is a clock the test sets while the server reads it.
type testClock struct{ nanos atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.Set(t)
	return c
}

func (c *testClock) Now() time.Time  { return time.Unix(0, c.nanos.Load()) }
func (c *testClock) Set(t time.Time) { c.nanos.Store(t.UnixNano()) }
