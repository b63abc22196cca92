package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/registry"
	"chsgate/internal/servertest"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// family is a household head with members from the synthetic registry, and
// an insured person from another network.
type family struct {
	head     store.PersonRecord
	members  []store.PersonRecord
	outsider store.PersonRecord
}

func findFamily(t *testing.T, persons []store.PersonRecord) family {
	t.Helper()
	normal := func(p store.PersonRecord) bool { return p.InsuStatus == registry.InsuStatusNormal }
	byFamily := map[string][]store.PersonRecord{}
	for _, p := range persons {
		if p.FamilyID != "" {
			byFamily[p.FamilyID] = append(byFamily[p.FamilyID], p)
		}
	}
	for _, p := range persons {
		if p.Relation != registry.RelationHead || !normal(p) {
			continue
		}
		var members []store.PersonRecord
		for _, m := range byFamily[p.FamilyID] {
			if m.IDCard != p.IDCard && normal(m) {
				members = append(members, m)
			}
		}
		if len(members) < 2 {
			continue
		}
		for _, o := range persons {
			if o.FamilyID != "" && o.FamilyID != p.FamilyID && normal(o) {
				return family{head: p, members: members[:2], outsider: o}
			}
		}
	}
	t.Fatal("the synthetic registry has no family of a head and two insured members")
	return family{}
}

func (e *testEnv) authRequest(f family, withOutsider bool) *api.AuthPageRequest {
	req := &api.AuthPageRequest{
		AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, UserID: "hmb-user-1",
		Name: f.head.Name, IDCard: f.head.IDCard, CertType: f.head.CertType, Phone: "13800138000",
		RedirectURL: e.redirects + "/auth/done", FailURL: e.redirects + "/auth/failed", URLType: "1",
	}
	persons := append([]store.PersonRecord{f.head}, f.members...)
	if withOutsider {
		persons = append(persons, f.outsider)
	}
	for _, p := range persons {
		req.PayList = append(req.PayList, api.AuthPerson{Name: p.Name, IDCard: p.IDCard, CertType: p.CertType, Relation: relationOr(p.Relation)})
	}
	return req
}

func relationOr(r string) string {
	if r == "" {
		return "1"
	}
	return r
}

// completeAuth finishes an authorization page through the sandbox endpoint
// and returns the address the browser is sent to, or the HTTP status when
// the endpoint refused.
func (e *testEnv) completeAuth(t *testing.T, linkURL, face string) (*url.URL, int) {
	t.Helper()
	return servertest.SandboxRedirect(t, e.URL, linkURL, "complete", `{"face":"`+face+`"}`)
}

// authorize runs CI00.01.00.01 and the page, and returns the auth code.
func (e *testEnv) authorize(t *testing.T, client *sdk.Client, req *api.AuthPageRequest) string {
	t.Helper()
	page, err := client.AuthPage(context.Background(), req)
	if err != nil {
		t.Fatalf("CI00.01.00.01: %v", err)
	}
	if !strings.HasPrefix(page.LinkURL, e.URL+"/h5/auth/") {
		t.Fatalf("link_url %s is not an authorization page of this server", page.LinkURL)
	}
	redirect, status := e.completeAuth(t, page.LinkURL, "pass")
	if redirect == nil {
		t.Fatalf("completing the page: HTTP %d", status)
	}
	if redirect.Path != "/auth/done" {
		t.Fatalf("sent to %s, want the redirect_url", redirect)
	}
	code := redirect.Query().Get("authcode")
	if len(code) < 22 {
		t.Fatalf("authcode %q is shorter than 128 bits in base64", code)
	}
	return code
}

func TestAuthorizationFamilyWithOutsider(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			f := findFamily(t, env.Persons)
			code := env.authorize(t, client, env.authRequest(f, true))

			info, err := client.UserInfo(context.Background(), &api.UserInfoRequest{AuthCode: code})
			if err != nil {
				t.Fatal(err)
			}
			want := append([]store.PersonRecord{f.head}, f.members...)
			want = append(want, f.outsider)
			if len(info.UserList) != len(want) {
				t.Fatalf("%d persons in userlist, want %d (the head once)", len(info.UserList), len(want))
			}
			for i, p := range want {
				got := info.UserList[i]
				uid, err := client.DecryptUserID(got.UserID)
				if err != nil || uid.IDCard != p.IDCard {
					t.Errorf("person %d: user_id %+v, %v", i, uid, err)
				}
				wantPsn, wantSuccess := "0", "1"
				if i == 0 {
					wantPsn = "1"
				}
				if p.IDCard == f.outsider.IDCard {
					wantSuccess = "0"
				}
				if got.AuthPsn != wantPsn || got.IsSuccess != wantSuccess {
					t.Errorf("person %d: auth_psn %s isSuccess %s, want %s %s", i, got.AuthPsn, got.IsSuccess, wantPsn, wantSuccess)
				}
				if got.TreatmentType != p.InsuStatus || got.InsuranceType != p.InsuType || got.InsuranceTypeName == "" {
					t.Errorf("person %d: treatment_type %q insurance_type %q name %q", i, got.TreatmentType, got.InsuranceType, got.InsuranceTypeName)
				}
			}
			if info.UserList[0].IsFamily != "1" {
				t.Errorf("applicant is_family %q, want 1", info.UserList[0].IsFamily)
			}
			outsider := info.UserList[len(want)-1]
			if outsider.FailCode != "20023" || !strings.HasPrefix(outsider.FailMsg, "此用户与户主不在同一个家庭网,此用户家庭网 id 为【") {
				t.Errorf("outsider failCode %q failMsg %q", outsider.FailCode, outsider.FailMsg)
			}
			if strings.Contains(outsider.FailMsg, f.outsider.FamilyID) {
				t.Errorf("failMsg %q shows the registry's network id", outsider.FailMsg)
			}
		})
	}
}

func TestAuthorizationLifecycle(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			f := findFamily(t, env.Persons)
			ctx := context.Background()

			first := env.authorize(t, client, env.authRequest(f, false))
			second := env.authorize(t, client, env.authRequest(f, false))
			if _, err := client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: first}); sdk.Code(err) != protocol.CodeAuthExpired {
				t.Errorf("superseded code: %v, want %d", err, protocol.CodeAuthExpired)
			}
			if _, err := client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: second}); err != nil {
				t.Errorf("current code: %v", err)
			}
			if _, err := client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: second}); err != nil {
				t.Errorf("current code, second call: %v", err)
			}

			// Another channel of another org cannot use the code.
			if _, err := env.Client(t, tokenAppID, sdk.WithTokenMode(true)).UserInfo(ctx, &api.UserInfoRequest{AuthCode: second}); sdk.Code(err) != protocol.CodeAuthCodeInvalid {
				t.Errorf("another channel's code: %v, want %d", err, protocol.CodeAuthCodeInvalid)
			}
			if _, err := client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: "not-a-code"}); sdk.Code(err) != protocol.CodeAuthCodeInvalid {
				t.Errorf("unknown code: %v, want %d", err, protocol.CodeAuthCodeInvalid)
			}
			if _, err := client.UserInfo(ctx, &api.UserInfoRequest{}); sdk.Code(err) != protocol.CodeAuthCodeEmpty {
				t.Errorf("no code: %v, want %d", err, protocol.CodeAuthCodeEmpty)
			}

			// 90 days later the code has expired.
			env.Clock.Set(env.Clock.Now().Add(90*24*time.Hour + time.Second))
			if _, err := client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: second}); sdk.Code(err) != protocol.CodeAuthExpired {
				t.Errorf("expired code: %v, want %d", err, protocol.CodeAuthExpired)
			}
		})
	}
}

func TestAuthorizationPageOutcomes(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			f := findFamily(t, env.Persons)
			ctx := context.Background()

			page, err := client.AuthPage(ctx, env.authRequest(f, false))
			if err != nil {
				t.Fatal(err)
			}
			failed, _ := env.completeAuth(t, page.LinkURL, "fail")
			if failed == nil || failed.Path != "/auth/failed" || failed.Query().Get("code") != "20022" || failed.Query().Get("authcode") != "" {
				t.Errorf("failed face check sent the browser to %v, want fail_url with code 20022", failed)
			}
			// A failed check leaves the page open for another try.
			done, status := env.completeAuth(t, page.LinkURL, "pass")
			if done == nil || done.Query().Get("authcode") == "" {
				t.Fatalf("second try: HTTP %d, %v", status, done)
			}
			if again, status := env.completeAuth(t, page.LinkURL, "pass"); again != nil || status != http.StatusConflict {
				t.Errorf("reused ticket: HTTP %d, %v; want 409", status, again)
			}

			expiring, err := client.AuthPage(ctx, env.authRequest(f, false))
			if err != nil {
				t.Fatal(err)
			}
			env.Clock.Set(env.Clock.Now().Add(15*time.Minute + time.Second))
			if _, status := env.completeAuth(t, expiring.LinkURL, "pass"); status != http.StatusGone {
				t.Errorf("expired ticket: HTTP %d, want 410", status)
			}
		})
	}
}

func TestAuthPageRejections(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			f := findFamily(t, env.Persons)
			stranger := store.PersonRecord{Name: "王二", IDCard: "650101198001010032", CertType: "01"}
			cases := []struct {
				name   string
				change func(r *api.AuthPageRequest)
				code   int
			}{
				{"no appid", func(r *api.AuthPageRequest) { r.AppID = "" }, protocol.CodeAppIDEmpty},
				{"no service_id", func(r *api.AuthPageRequest) { r.ServiceID = "" }, protocol.CodeServiceIDEmpty},
				{"no org_code", func(r *api.AuthPageRequest) { r.OrgCode = "" }, protocol.CodeOrgCodeEmpty},
				{"other org_code", func(r *api.AuthPageRequest) { r.OrgCode = "ORG999" }, protocol.CodeChannelMismatch},
				{"other service_id", func(r *api.AuthPageRequest) { r.ServiceID = "SVC999" }, protocol.CodeServiceIDUnknown},
				{"no cert type", func(r *api.AuthPageRequest) { r.CertType = "" }, protocol.CodeCertTypeEmpty},
				{"no name", func(r *api.AuthPageRequest) { r.Name = "" }, protocol.CodeNameEmpty},
				{"no idcard", func(r *api.AuthPageRequest) { r.IDCard = "" }, protocol.CodeIDNumberEmpty},
				{"member without cert type", func(r *api.AuthPageRequest) { r.PayList[1].CertType = "" }, protocol.CodeCertTypeEmpty},
				{"unknown applicant", func(r *api.AuthPageRequest) {
					r.Name, r.IDCard = stranger.Name, stranger.IDCard
					r.PayList = nil
				}, protocol.CodeNotInsured},
				{"cert type differs", func(r *api.AuthPageRequest) { r.CertType = "16" }, protocol.CodeCertTypeMismatch},
				{"member is applicant", func(r *api.AuthPageRequest) {
					m := f.members[0]
					r.Name, r.IDCard = m.Name, m.IDCard
				}, protocol.CodeNotHouseholdHead},
				{"url_type 9", func(r *api.AuthPageRequest) { r.URLType = "9" }, protocol.CodeBadField},
				{"bad relation", func(r *api.AuthPageRequest) { r.PayList[1].Relation = "99" }, protocol.CodeBadField},
				{"foreign redirect host", func(r *api.AuthPageRequest) { r.RedirectURL = "https://evil.example/cb" }, protocol.CodeHostNotAllowed},
				{"foreign fail host", func(r *api.AuthPageRequest) { r.FailURL = "https://evil.example/f" }, protocol.CodeHostNotAllowed},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					req := env.authRequest(f, false)
					c.change(req)
					_, err := client.AuthPage(context.Background(), req)
					var be *sdk.BusinessError
					if !errors.As(err, &be) || be.Code != c.code {
						t.Errorf("error %v, want business code %d", err, c.code)
					}
				})
			}

			req := env.authRequest(f, false)
			req.URLType = "2"
			page, err := client.AuthPage(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(page.LinkURL, "pages/healthcareOnlineServiceAuth/index?ticket=") {
				t.Errorf("url_type 2 link_url %q, want the mini program path", page.LinkURL)
			}
		})
	}
}
