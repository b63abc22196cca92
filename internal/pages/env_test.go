package pages_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/money"
	"chsgate/internal/pages"
	"chsgate/internal/registry"
	"chsgate/internal/servertest"
	"chsgate/internal/service"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/internal/verify"
	"chsgate/protocol"
)

// testCSRFKey keys the pages' CSRF tokens in the tests.
const testCSRFKey = "csrf key for page tests"

// syntheticSeed fixes the synthetic registry the tests import.
const syntheticSeed = 20261204

// testEnv is the real authorization and payment flow over one backend: a
// channel, the synthetic registry, the business services and the pages
// served on 127.0.0.1, and a stand-in for the third party's redirect and
// fail pages.
type testEnv struct {
	backend  storetest.Backend
	clock    *servertest.Clock
	services *service.Services
	channel  *channel.Channel
	// pagesURL is the pages server's base URL; link_url starts with it.
	pagesURL string
	// thirdPartyURL is the base URL of the third party's pages, which
	// redirect_url and fail_url point at.
	thirdPartyURL string
	// arrivals receives each URL the third party's server was sent to.
	arrivals chan *url.URL
	head     store.PersonRecord // the applicant, a household head
	members  []store.PersonRecord
	logs     *servertest.LogBuffer
}

// envOptions are the pages' settings a test chooses.
type envOptions struct {
	sandbox  bool
	verifier verify.Verifier
}

// forEachBackend runs fn in a subtest per backend, each with a fresh
// environment.
func forEachBackend(t *testing.T, opts envOptions, fn func(t *testing.T, env *testEnv)) {
	t.Helper()
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, newEnv(t, b, opts)) })
	}
}

func newEnv(t *testing.T, b storetest.Backend, opts envOptions) *testEnv {
	t.Helper()
	ctx := t.Context()
	now := time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)
	env := &testEnv{
		backend:  b,
		clock:    servertest.NewClock(now),
		arrivals: make(chan *url.URL, 16),
		logs:     &servertest.LogBuffer{},
	}

	_, sm2Public := servertest.SM2KeyPair(t)
	config := servertest.FJSChannel("hmbpages", sm2Public)
	// The pages show the org code, and so do the screenshots that the
	// browser tests save in docs/screenshots.
	config.OrgCode, config.ServiceID = "HMB-ORG-01", "HMB-SVC-01"
	config.SignType = protocol.SignMD5
	added, err := servertest.NewRegistry(t, b.Store).Add(ctx, config, now)
	if err != nil {
		t.Fatalf("add channel: %v", err)
	}
	env.channel = added

	records := registry.Synthetic(syntheticSeed)
	servertest.ImportPersons(t, b.Store, records, now)
	env.head, env.members = firstFamily(t, records)

	thirdParty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case env.arrivals <- r.URL:
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>第三方平台</title></head><body><p id="arrived">第三方平台已收到结果</p></body></html>`)
	}))
	t.Cleanup(thirdParty.Close)
	env.thirdPartyURL = thirdParty.URL

	logger := slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env.services = &service.Services{
		Store:  b.Store,
		Logger: logger,
		Now:    env.clock.Now,
		Secret: []byte("service references for page tests"),
	}
	p := pages.New(pages.Config{
		Auth:     env.services,
		Pay:      env.services,
		Verifier: opts.verifier,
		Sandbox:  opts.sandbox,
		CSRFKey:  []byte(testCSRFKey),
		Now:      env.clock.Now,
		Logger:   logger,
	})
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	env.pagesURL = srv.URL
	env.services.PublicURL = srv.URL
	return env
}

// firstFamily returns the head of the registry's first family network with
// a normally insured head, and up to three other members.
func firstFamily(t *testing.T, records []store.PersonRecord) (store.PersonRecord, []store.PersonRecord) {
	t.Helper()
	for _, head := range records {
		if head.FamilyID == "" || head.Relation != registry.RelationHead || head.InsuStatus != registry.InsuStatusNormal {
			continue
		}
		var members []store.PersonRecord
		for _, r := range records {
			if r.FamilyID == head.FamilyID && r.IDCard != head.IDCard && len(members) < 3 {
				members = append(members, r)
			}
		}
		if len(members) > 0 {
			return head, members
		}
	}
	t.Fatal("the synthetic registry has no family with a normally insured head")
	return store.PersonRecord{}, nil
}

// persons returns the applicant and the members, the persons a page shows.
func (e *testEnv) persons() []store.PersonRecord {
	return append([]store.PersonRecord{e.head}, e.members...)
}

// openAuthPage calls CI00.01.00.01 for the household head and the members
// and returns the page's link_url.
func (e *testEnv) openAuthPage(t *testing.T) string {
	t.Helper()
	req := &api.AuthPageRequest{
		AppID:       e.channel.AppID,
		ServiceID:   e.channel.ServiceID,
		OrgCode:     e.channel.OrgCode,
		UserID:      "hmb-user-0001",
		Name:        e.head.Name,
		IDCard:      e.head.IDCard,
		CertType:    e.head.CertType,
		Phone:       "13800138000",
		RedirectURL: e.thirdPartyURL + "/auth/done?state=s1",
		FailURL:     e.thirdPartyURL + "/auth/failed",
		URLType:     "1",
		PayList: []api.AuthPerson{{
			Name: e.head.Name, IDCard: e.head.IDCard, CertType: e.head.CertType, Relation: registry.RelationHead,
		}},
	}
	for _, m := range e.members {
		req.PayList = append(req.PayList, api.AuthPerson{
			Name: m.Name, IDCard: m.IDCard, CertType: m.CertType, Relation: m.Relation,
		})
	}
	resp, err := e.services.AuthPage(t.Context(), e.channel, req)
	if err != nil {
		t.Fatalf("AuthPage: %v", err)
	}
	if !strings.HasPrefix(resp.LinkURL, e.pagesURL+"/h5/auth/") {
		t.Fatalf("link_url = %q, want it under %s/h5/auth/", resp.LinkURL, e.pagesURL)
	}
	return resp.LinkURL
}

// authorize completes an authorization page for the household head and
// the members with the simulator, and returns the auth code.
func (e *testEnv) authorize(t *testing.T) string {
	t.Helper()
	link := e.openAuthPage(t)
	evidence := map[string]string{verify.FaceEvidence: "pass"}
	redirect, err := e.services.CompleteAuth(t.Context(), ticketOf(t, link), verify.Simulator{}, evidence)
	if err != nil {
		t.Fatalf("CompleteAuth: %v", err)
	}
	u, err := url.Parse(redirect)
	if err != nil {
		t.Fatalf("redirect %q: %v", redirect, err)
	}
	code := u.Query().Get("authcode")
	if code == "" {
		t.Fatalf("authorization sent the browser to %s, without an authcode", redirect)
	}
	return code
}

// payers returns the persons an order may debit under the code of
// authorize: the head and the members insured normally, as the others are
// not authorized.
func (e *testEnv) payers() []store.PersonRecord {
	payers := []store.PersonRecord{e.head}
	for _, m := range e.members {
		if m.InsuStatus == registry.InsuStatusNormal {
			payers = append(payers, m)
		}
	}
	return payers
}

// debit is one person's line of a test order.
type debit struct {
	person store.PersonRecord
	amount int64 // fen
}

// openPayPage calls CI00.02.00.01 for the lines under authCode and returns
// the page's link_url.
func (e *testEnv) openPayPage(t *testing.T, authCode, hiPayNo, payKind string, lines ...debit) string {
	t.Helper()
	req := &api.PayPageRequest{
		AppID:       e.channel.AppID,
		ServiceID:   e.channel.ServiceID,
		OrgCode:     e.channel.OrgCode,
		UserID:      "hmb-user-0001",
		AuthCode:    authCode,
		HiPayNo:     hiPayNo,
		HiPayDate:   e.clock.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05"),
		PayKind:     payKind,
		RedirectURL: e.thirdPartyURL + "/pay/done?state=p1",
		FailURL:     e.thirdPartyURL + "/pay/failed",
		NotifyURL:   e.thirdPartyURL + "/pay/notify",
		URLType:     "1",
	}
	var total int64
	for i, l := range lines {
		req.PayList = append(req.PayList, api.PayPerson{
			Name: l.person.Name, IDCard: l.person.IDCard, CertType: l.person.CertType, Region: l.person.Region,
			PayAmt: money.FormatFen(l.amount), SubHisPayNo: hiPayNo + "-" + strconv.Itoa(i+1),
		})
		total += l.amount
	}
	req.MedfeeSumamt = money.FormatFen(total)
	resp, err := e.services.PayPage(t.Context(), e.channel, req)
	if err != nil {
		t.Fatalf("PayPage: %v", err)
	}
	if !strings.HasPrefix(resp.LinkURL, e.pagesURL+"/h5/pay/") {
		t.Fatalf("link_url = %q, want it under %s/h5/pay/", resp.LinkURL, e.pagesURL)
	}
	return resp.LinkURL
}

// openFamilyPayPage authorizes the family and opens a mutual-aid payment
// page that debits the head's account for each payer, and returns its
// link_url and lines.
func (e *testEnv) openFamilyPayPage(t *testing.T) (string, []debit) {
	t.Helper()
	var lines []debit
	for i, p := range e.payers() {
		lines = append(lines, debit{person: p, amount: int64(12000 + 3050*i)})
	}
	return e.openPayPage(t, e.authorize(t), "HMBPAGE0001", store.PayKindMutual, lines...), lines
}

// balance returns the balance of the person's personal account in fen.
func (e *testEnv) balance(t *testing.T, person store.PersonRecord) int64 {
	t.Helper()
	return servertest.Balance(t, e.backend.Store, person)
}

// order returns the stored order of the third party's order number.
func (e *testEnv) order(t *testing.T, hiPayNo string) *store.Order {
	t.Helper()
	o, err := e.backend.Store.Order(t.Context(), store.OrderKey{OrgCode: e.channel.OrgCode, HiPayNo: hiPayNo})
	if err != nil {
		t.Fatalf("order %s: %v", hiPayNo, err)
	}
	return o
}

// noRedirectClient does not follow redirects, so tests see the 303, and
// keeps no cookies, so each test sends the cookies it means to.
var noRedirectClient = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// page is a response read whole.
type page struct {
	status  int
	header  http.Header
	body    string
	cookies []*http.Cookie
}

func do(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := noRedirectClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", req.Method, req.URL, err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body), cookies: resp.Cookies()}
}

func get(t *testing.T, link string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// postForm posts form to link with the cookies.
func postForm(t *testing.T, link string, form url.Values, cookies ...*http.Cookie) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, link, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return do(t, req)
}

func postJSON(t *testing.T, link, body string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, link, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

var csrfFieldPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// openForm opens the page at link and returns the CSRF cookie and the form's
// token, failing the test when either is missing.
func openForm(t *testing.T, link string) (*http.Cookie, string) {
	t.Helper()
	p := get(t, link)
	if p.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body:\n%s", link, p.status, p.body)
	}
	m := csrfFieldPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("GET %s: no csrf_token field in the page:\n%s", link, p.body)
	}
	for _, c := range p.cookies {
		if c.Name == "chsgate_csrf" {
			return c, m[1]
		}
	}
	t.Fatalf("GET %s: no chsgate_csrf cookie; Set-Cookie: %q", link, p.header.Values("Set-Cookie"))
	return nil, ""
}

// submit opens the page at link and posts its form with the face outcome.
func submit(t *testing.T, link, face string) page {
	t.Helper()
	cookie, token := openForm(t, link)
	return postForm(t, link, url.Values{"csrf_token": {token}, "face": {face}}, cookie)
}

// ticketOf returns the ticket at the end of a link_url of either page.
func ticketOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return path.Base(u.Path)
}
