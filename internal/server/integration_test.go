package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/cli"
	"chsgate/internal/registry"
	"chsgate/internal/server"
	"chsgate/internal/servertest"
	"chsgate/internal/store"
	"chsgate/internal/store/postgres"
	"chsgate/internal/store/sqlite"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// The channels the tests add: one in key mode, one in token mode.
const (
	keyAppID   = "hmbkey"
	tokenAppID = "hmbtoken"
)

// testEnv is a running sandbox server over one backend, with the test
// channels and a synthetic registry.
type testEnv struct {
	*servertest.Platform
	redirects string // base URL of a loopback server that stands in for the third party's pages
}

func startEnv(t *testing.T, b storetest.Backend) *testEnv {
	t.Helper()
	env := &testEnv{Platform: servertest.NewPlatform(t, b), redirects: servertest.StartRedirectTarget(t)}
	for _, c := range []struct {
		appid string
		mode  store.SecurityMode
	}{{keyAppID, store.ModeKey}, {tokenAppID, store.ModeToken}} {
		config := servertest.FJSChannel(c.appid, env.UserPublicKey)
		config.SecurityMode = c.mode
		env.AddChannel(t, config)
	}
	env.Start(t, server.Config{Sandbox: true})
	return env
}

func TestInsuredThroughSDK(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			employee := env.Pick(t, func(p store.PersonRecord) bool {
				return p.InsuType == registry.InsuTypeEmployee && p.InsuStatus == registry.InsuStatusNormal
			})
			resident := env.Pick(t, func(p store.PersonRecord) bool {
				return p.InsuType == registry.InsuTypeResident && p.InsuStatus == registry.InsuStatusNormal && p.CompanyName != ""
			})
			suspended := env.Pick(t, func(p store.PersonRecord) bool { return p.InsuStatus == registry.InsuStatusSuspended })
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
					client := env.Client(t, mode.appid, mode.opts...)
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
			client := env.Client(t, keyAppID)
			person := env.Persons[0]
			cases := []struct {
				name   string
				person api.InsuredPerson
				code   int
			}{
				{"no cert type", api.InsuredPerson{Name: person.Name, IDCard: person.IDCard}, protocol.CodeCertTypeEmpty},
				{"no name", api.InsuredPerson{IDCard: person.IDCard, CertType: "01"}, protocol.CodeNameEmpty},
				{"no idcard", api.InsuredPerson{Name: person.Name, CertType: "01"}, protocol.CodeIDNumberEmpty},
				{"cert type differs", api.InsuredPerson{Name: person.Name, IDCard: person.IDCard, CertType: "16"}, protocol.CodeCertTypeMismatch},
				{"bad check digit", api.InsuredPerson{Name: person.Name, IDCard: servertest.FlipCheckDigit(person.IDCard), CertType: "01"}, protocol.CodeBadField},
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
			keys := servertest.Keys(t, keyAppID, protocol.SignSM3)
			payload := []byte(fmt.Sprintf(`{"userlist":[{"name":%q,"idcard":%q,"cert_type":"01"}]}`, env.Persons[0].Name, env.Persons[0].IDCard))
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
			start := env.Clock.Now()
			good := seal(keyAppID, servertest.AppSecret, api.FunInsured, start)
			badSignature := bytes.Replace(seal(keyAppID, servertest.AppSecret, api.FunInsured, start.Add(time.Second)),
				[]byte(`"chs_fjs_sign":"`), []byte(`"chs_fjs_sign":"0`), 1)

			// A token that has expired: issue one, then move the clock on.
			tokenBody := servertest.Post(t, env.URL+"/oauth/token", "application/x-www-form-urlencoded",
				strings.NewReader("grant_type=client_credentials&client_id="+tokenAppID+"&client_secret="+servertest.AppSecret))
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
			if code := servertest.PostFJS(t, env.URL+"/gateway", good).Code; code != 0 {
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
				{"unknown appid", seal("nobody", servertest.AppSecret, api.FunInsured, start), "/gateway", start, protocol.CodeUnknownChannel},
				{"wrong secret", seal(keyAppID, "wrong", api.FunInsured, start), "/gateway", start, protocol.CodeAuthFailed},
				{"expired token", expiredToken, "/gateway", later, protocol.CodeAuthFailed},
				{"bad signature", badSignature, "/gateway", start, protocol.CodeBadSignature},
				{"replay", good, "/gateway", start, protocol.CodeReplay},
				{"stale timestamp", seal(keyAppID, servertest.AppSecret, api.FunInsured, start.Add(-601*time.Second)), "/gateway", start, protocol.CodeBadTimestamp},
				{"unknown funid", seal(keyAppID, servertest.AppSecret, "CI09.09.09.09", start), "/gateway", start, protocol.CodeUnknownFunction},
				{"alias differs", seal(keyAppID, servertest.AppSecret, api.FunInsured, start.Add(2*time.Second)), "/gateway/CI00.02.00.08", start, protocol.CodeUnknownFunction},
				{"2 MiB body", bytes.Repeat([]byte(" "), 2<<20), "/gateway", start, protocol.CodeTooLarge},
				{"invalid JSON", []byte(`{"chs_fjs_appid":`), "/gateway", start, protocol.CodeMalformed},
				{"non-UTF-8 body", []byte("{\"chs_fjs_appid\":\"\xff\"}"), "/gateway", start, protocol.CodeMalformed},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					env.Clock.Set(c.at)
					if code := servertest.PostFJS(t, env.URL+c.path, c.body).Code; code != c.code {
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

// TestCommandsEndToEnd drives the same path through the command line: the
// channel and the persons go in with chsgate channel add and chsgate import
// persons, and CI00.01.00.03 goes out with chsgate call.
func TestCommandsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "chsgate.db")
	if url, ok := storetest.PostgresURL(t); ok {
		dsn = url
	}
	t.Setenv("CHSGATE_MASTER_KEY", servertest.MasterKeyHex)
	run := func(stdin string, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if status := cli.Run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr); status != 0 {
			t.Fatalf("chsgate %s: exit %d: %s", strings.Join(args, " "), status, stderr.String())
		}
		return stdout.String()
	}

	run("", "migrate", "--db", dsn)
	privateHex, publicHex := servertest.SM2KeyPair(t)
	run("", "channel", "add", "--db", dsn, "--appid", keyAppID, "--appsecret", servertest.AppSecret, "--bizkey", servertest.BizKey,
		"--salt", servertest.Salt, "--org-code", servertest.OrgCode, "--service-id", servertest.ServiceID,
		"--sm2-public-key", publicHex, "--allow-host", "127.0.0.1")

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

	url := servertest.Start(t, server.Config{Store: openForServer(t, dsn), MasterKey: servertest.MasterKey(t)}).URL

	person := persons[0]
	request := fmt.Sprintf(`{"userlist":[{"name":%q,"idcard":%q,"cert_type":%q}]}`, person.Name, person.IDCard, person.CertType)
	out := run(request, "call", "--url", url, "--appid", keyAppID, "--appsecret", servertest.AppSecret, "--bizkey", servertest.BizKey,
		"--salt", servertest.Salt, "--funid", api.FunInsured, "--private-key", privateHex)
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
