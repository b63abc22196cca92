package pages_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/money"
	"chsgate/internal/registry"
	"chsgate/internal/servertest"
	"chsgate/internal/service"
	"chsgate/internal/store"
	"chsgate/internal/verify"
)

// total returns the sum of the lines' amounts in fen.
func total(lines []debit) int64 {
	var sum int64
	for _, l := range lines {
		sum += l.amount
	}
	return sum
}

// checkRedirect checks that p sends the browser with 303 to the third
// party's page at path, and returns the target's query.
func checkRedirect(t *testing.T, env *testEnv, p page, path string) url.Values {
	t.Helper()
	checkStatus(t, p, http.StatusSeeOther)
	location, err := url.Parse(p.header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", p.header.Get("Location"), err)
	}
	if got := location.Scheme + "://" + location.Host + location.Path; got != env.thirdPartyURL+path {
		t.Errorf("redirected to %s, want %s%s", got, env.thirdPartyURL, path)
	}
	return location.Query()
}

// settlement returns CI00.02.00.02 for a settlement code.
func settlement(t *testing.T, env *testEnv, code string) *api.SettleResultResponse {
	t.Helper()
	result, err := env.services.SettleResult(t.Context(), env.channel, &api.SettleResultRequest{Code: code})
	if err != nil {
		t.Fatalf("SettleResult for the redirect's code: %v", err)
	}
	return result
}

// checkLogsClean fails the test when the logs carry the personal data of a
// person on the page, or the page's ticket.
func checkLogsClean(t *testing.T, env *testEnv, link string) {
	t.Helper()
	logs := env.logs.String()
	servertest.CheckNoPersonalData(t, logs, env.persons()...)
	if strings.Contains(logs, ticketOf(t, link)) {
		t.Error("logs contain the ticket")
	}
}

func TestPayPageShowsMaskedOrder(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		headBalance := env.balance(t, env.head)
		link, lines := env.openFamilyPayPage(t)
		p := get(t, link)
		checkStatus(t, p, http.StatusOK)
		checkSecurityHeaders(t, p, env.thirdPartyURL)
		if got := p.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", got)
		}

		order := env.order(t, "HMBPAGE0001")
		sum := money.FormatFen(total(lines))
		checkContains(t, p,
			`<meta name="viewport" content="width=device-width, initial-scale=1">`,
			"<title>医保账户支付</title>",
			`<span class="figure">`+sum+`</span>`,
			"HMBPAGE0001",
			order.PayNo,
			env.channel.OrgCode,
			"<dd>家庭共济账户支付</dd>",
			"被投保人（共 "+strconv.Itoa(len(lines))+" 人）",
			"确认后将从上述医保账户划扣，划扣成功后不可撤销，如需退款请联系第三方平台",
			`请在本页面有效期内完成确认，有效期至 <span class="nowrap">2026-03-02 17:45（北京时间）</span>。`,
			"医保电子凭证身份核验和人脸识别",
			"沙箱环境",
			"沙箱模拟",
			`<button class="primary" type="submit" name="face" value="pass">人脸核验通过并确认支付</button>`,
			`<button class="secondary" type="submit" name="face" value="fail">人脸核验不通过</button>`,
		)
		certName, _ := registry.CertTypes().Name(env.head.CertType)
		for _, l := range lines {
			checkContains(t, p,
				`<span class="name">`+registry.MaskName(l.person.Name)+`</span><span class="money">`+money.FormatFen(l.amount)+` 元</span>`,
				certName+" "+registry.MaskIDCard(l.person.IDCard),
			)
		}

		// One account pays a mutual-aid order: the head's, for the total.
		checkContains(t, p,
			`<span class="name">`+registry.MaskName(env.head.Name)+`</span><span class="tag">个人账户</span>`,
			`<dt>当前余额</dt><dd class="money">`+money.FormatFen(headBalance)+` 元</dd>`,
			`<dt>本次划扣</dt><dd class="money">`+sum+` 元</dd>`,
		)
		if n := strings.Count(p.body, "当前余额"); n != 1 {
			t.Errorf("page shows %d accounts, want the head's only", n)
		}
		if strings.Contains(p.body, "余额不足") {
			t.Error("page warns of a short balance, but the head's account covers the order")
		}

		for _, person := range env.persons() {
			if strings.Contains(p.body, person.IDCard) {
				t.Errorf("page contains the unmasked ID number %s", registry.MaskIDCard(person.IDCard))
			}
			if strings.Contains(p.body, person.Name) {
				t.Errorf("page contains the unmasked name %s", registry.MaskName(person.Name))
			}
		}
		for _, external := range []string{"http://", "https://", "<script", "src="} {
			if strings.Contains(p.body, external) {
				t.Errorf("page contains %q, but it must load nothing and run no script", external)
			}
		}
	})
}

func TestPayPageShowsPersonalAccounts(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		headBalance := env.balance(t, env.head)
		link := env.openPayPage(t, env.authorize(t), "HMBPERSONAL1", store.PayKindPersonal, debit{env.head, 15000})
		p := get(t, link)
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p,
			"<dd>个人账户支付</dd>",
			`<span class="figure">150.00</span>`,
			`<span class="name">`+registry.MaskName(env.head.Name)+`</span><span class="tag">个人账户</span>`,
			`<dt>当前余额</dt><dd class="money">`+money.FormatFen(headBalance)+` 元</dd>`,
			`<dt>本次划扣</dt><dd class="money">150.00 元</dd>`,
		)
	})
}

func TestPayPageWarnsOfShortBalance(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		code := env.authorize(t)
		headBalance := env.balance(t, env.head)
		whole := env.openPayPage(t, code, "HMBWHOLE", store.PayKindPersonal, debit{env.head, headBalance})
		more := env.openPayPage(t, code, "HMBMORE", store.PayKindPersonal, debit{env.head, 100})
		checkRedirect(t, env, submit(t, whole, "pass"), "/pay/done")

		p := get(t, more)
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p,
			`<dt>当前余额</dt><dd class="money">0.00 元</dd>`,
			"当前余额不足，确认后支付将失败。",
		)
	})
}

func TestPayPageSetsCSRFCookie(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
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
		if cookie.MaxAge != int(service.PayTicketTTL/time.Second) {
			t.Errorf("CSRF cookie Max-Age = %d, want the ticket's remaining %v", cookie.MaxAge, service.PayTicketTTL)
		}
		if token != csrfToken(ticketOf(t, link), cookie.Value) {
			t.Error("form token is not the HMAC of the pay ticket and the cookie")
		}
	})
}

func TestPayPageRejectsBadCSRF(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		cookie, token := openForm(t, link)
		// A token of the authorization page, valid with the same cookie,
		// must not confirm a payment.
		authLink := env.openAuthPage(t)
		authToken := csrfToken(ticketOf(t, authLink), cookie.Value)

		cases := []struct {
			name    string
			form    url.Values
			cookies []*http.Cookie
		}{
			{"no token, no cookie", url.Values{"face": {"pass"}}, nil},
			{"no token", url.Values{"face": {"pass"}}, []*http.Cookie{cookie}},
			{"no cookie", url.Values{"csrf_token": {token}, "face": {"pass"}}, nil},
			{"wrong token", url.Values{"csrf_token": {"AAAA" + token[4:]}, "face": {"pass"}}, []*http.Cookie{cookie}},
			{"token of the authorization page", url.Values{"csrf_token": {authToken}, "face": {"pass"}}, []*http.Cookie{cookie}},
			{"cookie value as token", url.Values{"csrf_token": {cookie.Value}, "face": {"pass"}}, []*http.Cookie{cookie}},
			{"other cookie", url.Values{"csrf_token": {token}, "face": {"pass"}}, []*http.Cookie{{Name: cookie.Name, Value: strings.Repeat("A", len(cookie.Value))}}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := postForm(t, link, c.form, c.cookies...)
				checkStatus(t, p, http.StatusForbidden)
				checkSecurityHeaders(t, p)
				checkContains(t, p, "页面已失效，请刷新后重试", "请重新打开支付页面后再提交")
			})
		}

		// The rejected posts moved no money and left the order open.
		if got := env.balance(t, env.head); got != before {
			t.Errorf("head's balance %d after rejected posts, want %d", got, before)
		}
		if status := env.order(t, "HMBPAGE0001").Status; status != store.OrderPending {
			t.Errorf("order %s after rejected posts, want pending", status)
		}
		checkRedirect(t, env, postForm(t, link, url.Values{"csrf_token": {token}, "face": {"pass"}}, cookie), "/pay/done")
	})
}

func TestPayPagePassDebitsAccount(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, lines := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		p := submit(t, link, "pass")
		query := checkRedirect(t, env, p, "/pay/done")
		checkSecurityHeaders(t, p)
		if got := query.Get("state"); got != "p1" {
			t.Errorf("redirect lost redirect_url's own query: state = %q", got)
		}

		order := env.order(t, "HMBPAGE0001")
		if got := query.Get("code"); got != order.SettleCode {
			t.Errorf("redirect code = %q, want the order's settlement code", got)
		}
		if order.Status != store.OrderPaid {
			t.Errorf("order %s, want paid", order.Status)
		}
		if got, want := env.balance(t, env.head), before-total(lines); got != want {
			t.Errorf("head's balance %d after paying %d from %d, want %d", got, total(lines), before, want)
		}
		result := settlement(t, env, query.Get("code"))
		if result.HiPayNo != "HMBPAGE0001" || result.PayDate == "" {
			t.Errorf("settlement of the redirect's code: hi_pay_no %q, pay_date %q", result.HiPayNo, result.PayDate)
		}
		for i, line := range result.PayList {
			if line.PayResult != "1" {
				t.Errorf("settlement line %d: pay_result %q, want 1", i, line.PayResult)
			}
		}
		if err := env.backend.Store.LedgerCheck(t.Context()); err != nil {
			t.Errorf("ledger: %v", err)
		}
		checkLogsClean(t, env, link)
	})
}

func TestPayPagePersonalPassDebitsOwnAccount(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.openPayPage(t, env.authorize(t), "HMBPERSONAL2", store.PayKindPersonal, debit{env.head, 2345})
		before := env.balance(t, env.head)
		checkRedirect(t, env, submit(t, link, "pass"), "/pay/done")
		if got := env.balance(t, env.head); got != before-2345 {
			t.Errorf("balance %d after paying 23.45 from %d, want %d", got, before, before-2345)
		}
	})
}

func TestPayPageFailDebitsNothing(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		query := checkRedirect(t, env, submit(t, link, "fail"), "/pay/failed")
		if got, want := query.Get("code"), env.order(t, "HMBPAGE0001").SettleCode; got != want {
			t.Errorf("fail_url code %q, want the settlement code %q", got, want)
		}
		if got := env.balance(t, env.head); got != before {
			t.Errorf("head's balance %d after a failed face check, want %d", got, before)
		}
		if status := env.order(t, "HMBPAGE0001").Status; status != store.OrderPending {
			t.Errorf("order %s after a failed face check, want pending", status)
		}

		// A failed check leaves the page open for another try.
		checkStatus(t, get(t, link), http.StatusOK)
		checkRedirect(t, env, submit(t, link, "pass"), "/pay/done")
		checkLogsClean(t, env, link)
	})
}

func TestPayPageSecondConfirmationConflicts(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, lines := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		cookie, token := openForm(t, link)
		form := url.Values{"csrf_token": {token}, "face": {"pass"}}
		checkRedirect(t, env, postForm(t, link, form, cookie), "/pay/done")

		again := postForm(t, link, form, cookie)
		checkStatus(t, again, http.StatusConflict)
		checkSecurityHeaders(t, again)
		checkContains(t, again, "订单已处理，请勿重复支付", "请返回第三方应用查看支付结果。")

		reopened := get(t, link)
		checkStatus(t, reopened, http.StatusConflict)
		checkContains(t, reopened, "订单已处理，请勿重复支付")

		if got, want := env.balance(t, env.head), before-total(lines); got != want {
			t.Errorf("head's balance %d, want %d after one payment", got, want)
		}
	})
}

func TestPayPageConcurrentConfirmationsPayOnce(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, lines := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		cookie, token := openForm(t, link)
		form := url.Values{"csrf_token": {token}, "face": {"pass"}}

		// The goroutines report errors through the channel, because only
		// the test's own goroutine may call t.Fatal.
		const posts = 4
		statuses := make(chan int, posts)
		errs := make(chan error, posts)
		var wg sync.WaitGroup
		for range posts {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, link, strings.NewReader(form.Encode()))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
				resp, err := noRedirectClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		close(errs)
		for err := range errs {
			t.Errorf("concurrent confirmation: %v", err)
		}
		count := map[int]int{}
		for status := range statuses {
			count[status]++
		}
		if count[http.StatusSeeOther] != 1 || count[http.StatusConflict] != posts-1 {
			t.Errorf("statuses of %d concurrent confirmations: %v, want one 303 and the rest 409", posts, count)
		}
		if got, want := env.balance(t, env.head), before-total(lines); got != want {
			t.Errorf("head's balance %d, want %d after one payment", got, want)
		}
	})
}

func TestPayPageExpired(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		cookie, token := openForm(t, link)
		env.clock.Advance(service.PayTicketTTL)

		p := get(t, link)
		checkStatus(t, p, http.StatusGone)
		checkSecurityHeaders(t, p)
		checkContains(t, p, "链接已过期，请返回重新发起", "重新发起支付")

		posted := postForm(t, link, url.Values{"csrf_token": {token}, "face": {"pass"}}, cookie)
		checkStatus(t, posted, http.StatusGone)
		checkContains(t, posted, "链接已过期，请返回重新发起")
		if got := env.balance(t, env.head); got != before {
			t.Errorf("head's balance %d after an expired confirmation, want %d", got, before)
		}
	})
}

func TestPayPageUnknownTicket(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link := env.pagesURL + "/h5/pay/no-such-ticket"
		p := get(t, link)
		checkStatus(t, p, http.StatusNotFound)
		checkSecurityHeaders(t, p)
		checkContains(t, p, "链接不存在", "重新发起支付")

		cookie, _ := openForm(t, env.openAuthPage(t))
		posted := postForm(t, link, url.Values{
			"csrf_token": {csrfToken("no-such-ticket", cookie.Value)},
			"face":       {"pass"},
		}, cookie)
		checkStatus(t, posted, http.StatusNotFound)
		checkContains(t, posted, "链接不存在")
	})
}

func TestPayPageFailsClosedWithoutVerifier(t *testing.T) {
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
				link, _ := env.openFamilyPayPage(t)
				before := env.balance(t, env.head)
				p := get(t, link)
				checkStatus(t, p, http.StatusOK)
				checkContains(t, p, "医保电子凭证身份核验和人脸识别", `<button class="primary" type="submit">确认支付，开始身份核验</button>`)
				for _, sandboxText := range []string{"沙箱", `name="face"`} {
					if strings.Contains(p.body, sandboxText) {
						t.Errorf("production page contains %q", sandboxText)
					}
				}

				for _, face := range []string{"", "pass"} {
					posted := submit(t, link, face)
					checkStatus(t, posted, http.StatusServiceUnavailable)
					checkSecurityHeaders(t, posted)
					checkContains(t, posted, "身份核验服务未配置，暂时无法支付")
					if posted.header.Get("Location") != "" {
						t.Errorf("fail-closed response redirects to %s", posted.header.Get("Location"))
					}
				}
				if got := env.balance(t, env.head); got != before {
					t.Errorf("head's balance %d without a verifier, want %d", got, before)
				}
				// Nothing was settled, so the page is still open.
				checkStatus(t, get(t, link), http.StatusOK)
			})
		})
	}
}

func TestPayPageSystemErrorIsGeneric(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
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

func TestPayPageRejectsOversizedForm(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
		cookie, token := openForm(t, link)
		form := url.Values{"csrf_token": {token}, "face": {"pass"}, "padding": {strings.Repeat("x", 64<<10)}}
		p := postForm(t, link, form, cookie)
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "请求无效，请刷新后重试")
		if status := env.order(t, "HMBPAGE0001").Status; status != store.OrderPending {
			t.Errorf("order %s after an oversized form, want pending", status)
		}
	})
}

// confirmEndpoint returns the sandbox endpoint that confirms the page at
// link.
func confirmEndpoint(t *testing.T, env *testEnv, link string) string {
	t.Helper()
	return env.pagesURL + "/sandbox/pay/" + ticketOf(t, link) + "/confirm"
}

func TestSandboxConfirmPayTrue(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, lines := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		endpoint := confirmEndpoint(t, env, link)
		p := postJSON(t, endpoint, `{"confirm":true}`)
		checkStatus(t, p, http.StatusOK)
		checkSecurityHeaders(t, p)
		r := decodeSandbox(t, p)
		location, err := url.Parse(r.Redirect)
		if err != nil {
			t.Fatalf("redirect %q: %v", r.Redirect, err)
		}
		if !strings.HasPrefix(r.Redirect, env.thirdPartyURL+"/pay/done?") {
			t.Errorf("redirect = %s, want redirect_url", r.Redirect)
		}
		if got := location.Query().Get("code"); got != env.order(t, "HMBPAGE0001").SettleCode {
			t.Errorf("redirect code = %q, want the order's settlement code", got)
		}
		if got, want := env.balance(t, env.head), before-total(lines); got != want {
			t.Errorf("head's balance %d, want %d", got, want)
		}

		for _, confirm := range []string{"true", "false"} {
			again := postJSON(t, endpoint, `{"confirm":`+confirm+`}`)
			checkStatus(t, again, http.StatusConflict)
			if got := decodeSandbox(t, again).Error; got != "ticket_used" {
				t.Errorf("confirm %s after payment: error = %q, want ticket_used", confirm, got)
			}
		}
		checkLogsClean(t, env, link)
	})
}

func TestSandboxConfirmPayFalse(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		p := postJSON(t, confirmEndpoint(t, env, link), `{"confirm":false}`)
		checkStatus(t, p, http.StatusOK)
		r := decodeSandbox(t, p)
		location, err := url.Parse(r.Redirect)
		if err != nil {
			t.Fatalf("redirect %q: %v", r.Redirect, err)
		}
		if !strings.HasPrefix(r.Redirect, env.thirdPartyURL+"/pay/failed?") {
			t.Errorf("redirect = %s, want fail_url", r.Redirect)
		}
		order := env.order(t, "HMBPAGE0001")
		if got := location.Query().Get("code"); got != order.SettleCode {
			t.Errorf("redirect code = %q, want the order's settlement code", got)
		}
		if order.Status != store.OrderPending {
			t.Errorf("order %s after declining, want pending", order.Status)
		}
		if got := env.balance(t, env.head); got != before {
			t.Errorf("head's balance %d after declining, want %d", got, before)
		}
		result := settlement(t, env, location.Query().Get("code"))
		if result.HiPayNo != "HMBPAGE0001" || result.PayDate != "" {
			t.Errorf("settlement after declining: hi_pay_no %q, pay_date %q; want the order, unpaid", result.HiPayNo, result.PayDate)
		}
		for i, line := range result.PayList {
			if line.PayResult != "0" {
				t.Errorf("settlement line %d: pay_result %q, want 0", i, line.PayResult)
			}
		}

		// Declining settles nothing, so the page stays open.
		checkStatus(t, get(t, link), http.StatusOK)
	})
}

func TestSandboxConfirmPayRejectsBadBody(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
		endpoint := confirmEndpoint(t, env, link)
		for _, c := range []struct{ body, code string }{
			{``, "invalid_json"},
			{`{"confirm":`, "invalid_json"},
			{`[true]`, "invalid_json"},
			{`{"confirm":"true"}`, "invalid_json"},
			{`{"confirm":1}`, "invalid_json"},
			{`{"confirm":true} {"confirm":false}`, "invalid_json"},
			{`{}`, "invalid_confirm"},
			{`{"confirm":null}`, "invalid_confirm"},
			{`{"face":"pass"}`, "invalid_confirm"},
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

		// None of the bad bodies settled the order.
		if status := env.order(t, "HMBPAGE0001").Status; status != store.OrderPending {
			t.Errorf("order %s after bad bodies, want pending", status)
		}
		checkStatus(t, postJSON(t, endpoint, `{"confirm":true}`), http.StatusOK)
	})
}

func TestSandboxConfirmPayTicketErrors(t *testing.T) {
	forEachBackend(t, sandbox, func(t *testing.T, env *testEnv) {
		for _, confirm := range []string{"true", "false"} {
			unknown := postJSON(t, env.pagesURL+"/sandbox/pay/no-such-ticket/confirm", `{"confirm":`+confirm+`}`)
			checkStatus(t, unknown, http.StatusNotFound)
			if got := decodeSandbox(t, unknown).Error; got != "ticket_not_found" {
				t.Errorf("confirm %s, unknown ticket: error = %q, want ticket_not_found", confirm, got)
			}
		}

		link, _ := env.openFamilyPayPage(t)
		endpoint := confirmEndpoint(t, env, link)
		env.clock.Advance(service.PayTicketTTL + time.Second)
		for _, confirm := range []string{"true", "false"} {
			expired := postJSON(t, endpoint, `{"confirm":`+confirm+`}`)
			checkStatus(t, expired, http.StatusGone)
			r := decodeSandbox(t, expired)
			if r.Error != "ticket_expired" {
				t.Errorf("confirm %s, expired ticket: error = %q, want ticket_expired", confirm, r.Error)
			}
			if r.Message == "" {
				t.Errorf("confirm %s, expired ticket: error has no message", confirm)
			}
		}
	})
}

func TestSandboxConfirmPayAbsentInProduction(t *testing.T) {
	forEachBackend(t, envOptions{}, func(t *testing.T, env *testEnv) {
		link, _ := env.openFamilyPayPage(t)
		before := env.balance(t, env.head)
		for _, confirm := range []string{"true", "false"} {
			p := postJSON(t, confirmEndpoint(t, env, link), `{"confirm":`+confirm+`}`)
			checkStatus(t, p, http.StatusNotFound)
			if strings.Contains(p.body, "redirect") {
				t.Errorf("production answered the sandbox endpoint: %s", p.body)
			}
		}
		if got := env.balance(t, env.head); got != before {
			t.Errorf("head's balance %d, want %d", got, before)
		}
		if status := env.order(t, "HMBPAGE0001").Status; status != store.OrderPending {
			t.Errorf("order %s, want pending", status)
		}
	})
}
