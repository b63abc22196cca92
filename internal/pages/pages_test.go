package pages_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"chsgate/internal/registry"
	"chsgate/internal/servertest"
	"chsgate/internal/service"
	"chsgate/internal/verify"
	"chsgate/protocol"
)

var sandbox = envOptions{sandbox: true}

const strictPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"

// checkSecurityHeaders checks the headers of every page. Only an open
// authorization page lets its form go on to the third party's origins.
func checkSecurityHeaders(t *testing.T, p page, formTargets ...string) {
	t.Helper()
	policy := strictPolicy
	if len(formTargets) > 0 {
		policy = strings.Replace(strictPolicy, "form-action 'self'", "form-action 'self' "+strings.Join(formTargets, " "), 1)
	}
	want := map[string]string{
		"Content-Security-Policy": policy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for name, value := range want {
		if got := p.header.Get(name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
}

func checkStatus(t *testing.T, p page, want int) {
	t.Helper()
	if p.status != want {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, want, p.body)
	}
}

func checkContains(t *testing.T, p page, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if !strings.Contains(p.body, text) {
			t.Errorf("page does not contain %q; body:\n%s", text, p.body)
		}
	}
}

func TestAuthPageShowsMaskedPersons(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		p := get(t, link)
		checkStatus(t, p, http.StatusOK)
		checkSecurityHeaders(t, p, env.thirdPartyURL)
		if got := p.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", got)
		}

		checkContains(t, p,
			`<meta name="viewport" content="width=device-width, initial-scale=1">`,
			"医保在线服务授权",
			env.channel.OrgCode,
			"授权后，第三方平台可在 90 天内查询以上人员的参保信息并发起医保账户划扣，每次划扣前需再次确认",
			"沙箱环境",
			"沙箱模拟",
			`name="face" value="pass"`,
			`name="face" value="fail"`,
			"人脸核验通过",
			"人脸核验不通过",
			`本页面有效期至 <span class="nowrap">2026-03-02 17:45（北京时间）</span>`,
			"授权人员（共 "+strconv.Itoa(len(env.persons()))+" 人）",
		)
		for _, person := range env.persons() {
			checkContains(t, p, registry.MaskName(person.Name), registry.MaskIDCard(person.IDCard))
			if strings.Contains(p.body, person.IDCard) {
				t.Errorf("page contains the unmasked ID number %s", registry.MaskIDCard(person.IDCard))
			}
			if strings.Contains(p.body, person.Name) {
				t.Errorf("page contains the unmasked name %s", registry.MaskName(person.Name))
			}
		}
		certName, _ := registry.CertTypes().Name(env.head.CertType)
		checkContains(t, p, certName)
		for _, m := range env.members {
			relation, _ := registry.Relations().Name(m.Relation)
			checkContains(t, p, `<span class="tag">`+relation+`</span>`)
		}
		for _, external := range []string{"http://", "https://", "<script", "src="} {
			if strings.Contains(p.body, external) {
				t.Errorf("page contains %q, but it must load nothing and run no script", external)
			}
		}
	})
}

func TestAuthPageSetsCSRFCookie(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		cookie, token := openForm(t, link)
		if !cookie.HttpOnly {
			t.Error("CSRF cookie is not HttpOnly")
		}
		if cookie.SameSite != http.SameSiteStrictMode {
			t.Errorf("CSRF cookie SameSite = %v, want Strict", cookie.SameSite)
		}
		if cookie.Path != "/h5/" {
			t.Errorf("CSRF cookie Path = %q, want /h5/", cookie.Path)
		}
		if cookie.Secure {
			t.Error("CSRF cookie is Secure on a plain-HTTP request, so the browser would not send it back")
		}
		if cookie.MaxAge != int(service.AuthTicketTTL/time.Second) {
			t.Errorf("CSRF cookie Max-Age = %d, want the ticket's remaining %v", cookie.MaxAge, service.AuthTicketTTL)
		}
		if strings.Contains(token, cookie.Value) {
			t.Error("form token contains the cookie's value")
		}

		// A second GET with the cookie keeps it, so a page open in another
		// tab stays valid.
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, link, nil)
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		again := do(t, req)
		checkStatus(t, again, http.StatusOK)
		checkContains(t, again, `value="`+token+`"`)
	})
}

func TestAuthPageRejectsBadCSRF(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		cookie, token := openForm(t, link)
		otherLink := env.openAuthPage(t)
		_, otherToken := openForm(t, otherLink)

		cases := []struct {
			name    string
			form    url.Values
			cookies []*http.Cookie
		}{
			{"no token, no cookie", url.Values{"face": {"pass"}}, nil},
			{"no token", url.Values{"face": {"pass"}}, []*http.Cookie{cookie}},
			{"no cookie", url.Values{"csrf_token": {token}, "face": {"pass"}}, nil},
			{"wrong token", url.Values{"csrf_token": {"AAAA" + token[4:]}, "face": {"pass"}}, []*http.Cookie{cookie}},
			{"token of another page", url.Values{"csrf_token": {otherToken}, "face": {"pass"}}, []*http.Cookie{cookie}},
			{"cookie value as token", url.Values{"csrf_token": {cookie.Value}, "face": {"pass"}}, []*http.Cookie{cookie}},
			{"other cookie", url.Values{"csrf_token": {token}, "face": {"pass"}}, []*http.Cookie{{Name: cookie.Name, Value: strings.Repeat("A", len(cookie.Value))}}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := postForm(t, link, c.form, c.cookies...)
				checkStatus(t, p, http.StatusForbidden)
				checkSecurityHeaders(t, p)
				checkContains(t, p, "页面已失效，请刷新后重试")
			})
		}

		// The rejected posts did not use the ticket up.
		p := postForm(t, link, url.Values{"csrf_token": {token}, "face": {"pass"}}, cookie)
		checkStatus(t, p, http.StatusSeeOther)
	})
}

func TestAuthPagePassRedirectsWithAuthCode(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		p := submit(t, link, "pass")
		query := checkRedirect(t, env, p, "/auth/done")
		checkSecurityHeaders(t, p)

		if got := query.Get("state"); got != "s1" {
			t.Errorf("redirect lost redirect_url's own query: state = %q", got)
		}
		if query.Get("authcode") == "" {
			t.Errorf("redirect has no authcode: %s", p.header.Get("Location"))
		}
		servertest.CheckNoPersonalData(t, env.logs.String(), env.persons()...)
	})
}

func TestAuthPageSecondCompletionConflicts(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		cookie, token := openForm(t, link)
		form := url.Values{"csrf_token": {token}, "face": {"pass"}}
		checkStatus(t, postForm(t, link, form, cookie), http.StatusSeeOther)

		again := postForm(t, link, form, cookie)
		checkStatus(t, again, http.StatusConflict)
		checkSecurityHeaders(t, again)
		checkContains(t, again, "授权已完成，请勿重复提交")

		reopened := get(t, link)
		checkStatus(t, reopened, http.StatusConflict)
		checkContains(t, reopened, "授权已完成，请勿重复提交")
	})
}

func TestAuthPageFailRedirectsToFailURL(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		p := submit(t, link, "fail")
		checkStatus(t, p, http.StatusSeeOther)

		location, err := url.Parse(p.header.Get("Location"))
		if err != nil {
			t.Fatalf("Location %q: %v", p.header.Get("Location"), err)
		}
		if got := location.Scheme + "://" + location.Host + location.Path; got != env.thirdPartyURL+"/auth/failed" {
			t.Errorf("redirected to %s, want %s/auth/failed", got, env.thirdPartyURL)
		}
		if got, want := location.Query().Get("code"), strconv.Itoa(protocol.CodeAuthFailedOther); got != want {
			t.Errorf("code = %q, want %s", got, want)
		}
		if location.Query().Has("authcode") {
			t.Errorf("failed verification carries an authcode: %s", location)
		}

		// A failed check leaves the page open for another try.
		checkStatus(t, get(t, link), http.StatusOK)
		checkStatus(t, submit(t, link, "pass"), http.StatusSeeOther)
	})
}

func TestAuthPageExpired(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		cookie, token := openForm(t, link)
		env.clock.Advance(service.AuthTicketTTL)

		p := get(t, link)
		checkStatus(t, p, http.StatusGone)
		checkSecurityHeaders(t, p)
		checkContains(t, p, "链接已过期，请返回重新发起")

		posted := postForm(t, link, url.Values{"csrf_token": {token}, "face": {"pass"}}, cookie)
		checkStatus(t, posted, http.StatusGone)
		checkContains(t, posted, "链接已过期，请返回重新发起")
	})
}

func TestAuthPageUnknownTicket(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.pagesURL + "/h5/auth/no-such-ticket"
		p := get(t, link)
		checkStatus(t, p, http.StatusNotFound)
		checkSecurityHeaders(t, p)
		checkContains(t, p, "链接不存在")

		// A valid token for an unknown ticket passes the CSRF check and
		// reaches the ticket lookup, which must not find it.
		cookie, _ := openForm(t, env.openAuthPage(t))
		posted := postForm(t, link, url.Values{
			"csrf_token": {csrfToken("no-such-ticket", cookie.Value)},
			"face":       {"pass"},
		}, cookie)
		checkStatus(t, posted, http.StatusNotFound)
		checkContains(t, posted, "链接不存在")
	})
}

// csrfToken computes a form token the way the pages document it, with the
// key newEnv gives them.
func csrfToken(ticket, cookie string) string {
	mac := hmac.New(sha256.New, []byte(testCSRFKey))
	mac.Write([]byte(ticket + "\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestAuthPageFailsClosedWithoutVerifier(t *testing.T) {
	for _, c := range []struct {
		name     string
		verifier verify.Verifier
	}{
		{"no verifier", nil},
		{"unavailable", verify.Unavailable{}},
		{"simulator outside sandbox", verify.Simulator{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, envOptions{verifier: c.verifier}, func(t *testing.T, env *testEnv) {
				link := env.openAuthPage(t)
				p := get(t, link)
				checkStatus(t, p, http.StatusOK)
				checkContains(t, p, "医保电子凭证身份核验和人脸识别", "同意授权，开始身份核验")
				for _, sandboxText := range []string{"沙箱", `name="face"`} {
					if strings.Contains(p.body, sandboxText) {
						t.Errorf("production page contains %q", sandboxText)
					}
				}

				for _, face := range []string{"", "pass"} {
					posted := submit(t, link, face)
					checkStatus(t, posted, http.StatusServiceUnavailable)
					checkSecurityHeaders(t, posted)
					checkContains(t, posted, "身份核验服务未配置，暂时无法授权", "错误编号：")
					start := strings.Index(posted.body, "错误编号：") + len("错误编号：")
					if requestID := posted.body[start : start+16]; !strings.Contains(env.logs.String(), "request_id="+requestID) {
						t.Errorf("logs do not contain the page's request_id=%s", requestID)
					}
					if posted.header.Get("Location") != "" {
						t.Errorf("fail-closed answer redirects to %s", posted.header.Get("Location"))
					}
				}
				// Nothing was issued, so the page is still open.
				checkStatus(t, get(t, link), http.StatusOK)
			})
		})
	}
}

func TestAuthPageSystemErrorIsGeneric(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		cookie, token := openForm(t, link)
		if err := env.backend.Store.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}

		p := postForm(t, link, url.Values{"csrf_token": {token}, "face": {"pass"}}, cookie)
		checkStatus(t, p, http.StatusInternalServerError)
		checkSecurityHeaders(t, p)
		checkContains(t, p, "系统繁忙", "错误编号：")

		start := strings.Index(p.body, "错误编号：") + len("错误编号：")
		requestID := p.body[start : start+16]
		if logs := env.logs.String(); !strings.Contains(logs, "request_id="+requestID) {
			t.Errorf("logs do not contain request_id=%s:\n%s", requestID, logs)
		}
		checkLogsClean(t, env, link)
	})
}

func TestAuthPageRejectsOversizedForm(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openAuthPage(t)
		cookie, token := openForm(t, link)
		form := url.Values{"csrf_token": {token}, "face": {"pass"}, "padding": {strings.Repeat("x", 64<<10)}}
		p := postForm(t, link, form, cookie)
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "请求无效，请刷新后重试")
	})
}

func TestUnknownPathHasSecurityHeaders(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		p := get(t, env.pagesURL+"/h5/other")
		checkStatus(t, p, http.StatusNotFound)
		checkSecurityHeaders(t, p)
	})
}

// sandboxResult is the JSON body of a sandbox API response.
type sandboxResult struct {
	Redirect string `json:"redirect"`
	Error    string `json:"error"`
	Message  string `json:"message"`
}

func decodeSandbox(t *testing.T, p page) sandboxResult {
	t.Helper()
	if got := p.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want JSON", got)
	}
	var r sandboxResult
	if err := json.Unmarshal([]byte(p.body), &r); err != nil {
		t.Fatalf("sandbox answer is not JSON: %v; body: %s", err, p.body)
	}
	return r
}

func TestSandboxCompletePass(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		endpoint := env.pagesURL + "/sandbox/auth/" + ticketOf(t, env.openAuthPage(t)) + "/complete"
		p := postJSON(t, endpoint, `{"face":"pass"}`)
		checkStatus(t, p, http.StatusOK)
		r := decodeSandbox(t, p)
		location, err := url.Parse(r.Redirect)
		if err != nil {
			t.Fatalf("redirect %q: %v", r.Redirect, err)
		}
		if !strings.HasPrefix(r.Redirect, env.thirdPartyURL+"/auth/done?") {
			t.Errorf("redirect = %s, want redirect_url", r.Redirect)
		}
		if location.Query().Get("authcode") == "" {
			t.Errorf("redirect has no authcode: %s", r.Redirect)
		}

		again := postJSON(t, endpoint, `{"face":"pass"}`)
		checkStatus(t, again, http.StatusConflict)
		if got := decodeSandbox(t, again).Error; got != "ticket_used" {
			t.Errorf("error = %q, want ticket_used", got)
		}
	})
}

func TestSandboxCompleteFail(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		endpoint := env.pagesURL + "/sandbox/auth/" + ticketOf(t, env.openAuthPage(t)) + "/complete"
		p := postJSON(t, endpoint, `{"face":"fail"}`)
		checkStatus(t, p, http.StatusOK)
		r := decodeSandbox(t, p)
		location, err := url.Parse(r.Redirect)
		if err != nil {
			t.Fatalf("redirect %q: %v", r.Redirect, err)
		}
		if !strings.HasPrefix(r.Redirect, env.thirdPartyURL+"/auth/failed?") {
			t.Errorf("redirect = %s, want fail_url", r.Redirect)
		}
		if got, want := location.Query().Get("code"), strconv.Itoa(protocol.CodeAuthFailedOther); got != want {
			t.Errorf("code = %q, want %s", got, want)
		}
	})
}

func TestSandboxCompleteRejectsBadBody(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		endpoint := env.pagesURL + "/sandbox/auth/" + ticketOf(t, env.openAuthPage(t)) + "/complete"
		for _, c := range []struct{ body, code string }{
			{``, "invalid_json"},
			{`{"face":`, "invalid_json"},
			{`["pass"]`, "invalid_json"},
			{`{"face":1}`, "invalid_json"},
			{`{"face":"pass"} {"face":"fail"}`, "invalid_json"},
			{`{}`, "invalid_face"},
			{`{"face":"maybe"}`, "invalid_face"},
		} {
			p := postJSON(t, endpoint, c.body)
			if p.status != http.StatusBadRequest {
				t.Errorf("body %q: status %d, want 400", c.body, p.status)
				continue
			}
			if got := decodeSandbox(t, p).Error; got != c.code {
				t.Errorf("body %q: error %q, want %q", c.body, got, c.code)
			}
		}

		// None of the bad bodies used the ticket up.
		checkStatus(t, postJSON(t, endpoint, `{"face":"pass"}`), http.StatusOK)
	})
}

func TestSandboxCompleteTicketErrors(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		unknown := postJSON(t, env.pagesURL+"/sandbox/auth/no-such-ticket/complete", `{"face":"pass"}`)
		checkStatus(t, unknown, http.StatusNotFound)
		if got := decodeSandbox(t, unknown).Error; got != "ticket_not_found" {
			t.Errorf("error = %q, want ticket_not_found", got)
		}

		endpoint := env.pagesURL + "/sandbox/auth/" + ticketOf(t, env.openAuthPage(t)) + "/complete"
		env.clock.Advance(service.AuthTicketTTL + time.Second)
		expired := postJSON(t, endpoint, `{"face":"pass"}`)
		checkStatus(t, expired, http.StatusGone)
		r := decodeSandbox(t, expired)
		if r.Error != "ticket_expired" {
			t.Errorf("error = %q, want ticket_expired", r.Error)
		}
		if r.Message == "" {
			t.Error("error has no message")
		}
	})
}

func TestSandboxEndpointAbsentInProduction(t *testing.T) {
	forEachBackend(t, envOptions{}, func(t *testing.T, env *testEnv) {
		endpoint := env.pagesURL + "/sandbox/auth/" + ticketOf(t, env.openAuthPage(t)) + "/complete"
		p := postJSON(t, endpoint, `{"face":"pass"}`)
		checkStatus(t, p, http.StatusNotFound)
		if strings.Contains(p.body, "redirect") {
			t.Errorf("production answered the sandbox endpoint: %s", p.body)
		}
	})
}
