package pages

import (
	"net/http"

	"chsgate/internal/money"
	"chsgate/internal/service"
)

var payFlow = flow{
	name:       "payment",
	page:       "支付页面",
	notFound:   pageError{http.StatusNotFound, "ticket_not_found", "链接不存在", "请返回第三方应用重新发起支付。"},
	expired:    pageError{http.StatusGone, "ticket_expired", "链接已过期，请返回重新发起", "支付页面打开后需在有效期内确认，请返回第三方应用重新发起支付。"},
	used:       pageError{http.StatusConflict, "ticket_used", "订单已处理，请勿重复支付", "请返回第三方应用查看支付结果。"},
	noVerifier: pageError{http.StatusServiceUnavailable, "verifier_not_configured", "身份核验服务未配置，暂时无法支付", "请稍后再试，或联系第三方平台客服。"},
}

// payPage is the data of the payment page.
type payPage struct {
	Title    string
	Sandbox  bool
	View     *service.PayTicketView
	Accounts []payAccount
	// Short is set when any account's balance no longer covers its debit.
	Short     bool
	ExpiresAt string
	CSRFField string
	CSRFToken string
}

// payAccount is one paying account on the payment page.
type payAccount struct {
	service.AccountView
	// Short is set when the balance no longer covers the debit, for
	// example after another order was paid from the account. Confirming
	// then ends the order as failed, so the page warns first.
	Short bool
}

// servePayPage shows the payment page. Like the authorization page,
// opening it does not use the ticket up.
func (p *Pages) servePayPage(w http.ResponseWriter, r *http.Request) {
	ticket := r.PathValue("ticket")
	view, err := p.cfg.Pay.PayTicket(r.Context(), ticket)
	if err != nil {
		p.renderFlowError(w, r, payFlow, "open payment page", err)
		return
	}

	data := payPage{
		Title:     "医保账户支付",
		Sandbox:   p.cfg.Sandbox,
		View:      view,
		ExpiresAt: view.ExpiresAt.In(shanghai).Format("2006-01-02 15:04"),
		CSRFField: csrfFieldName,
	}
	for _, a := range view.Accounts {
		account := payAccount{AccountView: a, Short: balanceShort(a)}
		data.Short = data.Short || account.Short
		data.Accounts = append(data.Accounts, account)
	}

	cookie := csrfCookieValue(r)
	setCSRFCookie(w, r, cookie, p.cfg.Now(), view.ExpiresAt)
	data.CSRFToken = csrfToken(p.cfg.CSRFKey, ticket, cookie)
	w.Header().Set("Content-Security-Policy", policyWithFormTargets(view.FormTargets))
	p.render(w, http.StatusOK, payTemplate, data)
}

// balanceShort reports whether the account's balance is below its debit.
// The view carries yuan strings, and an amount that does not parse counts
// as covered, because the settling transaction checks the balance again
// anyway.
func balanceShort(a service.AccountView) bool {
	balance, err := money.ParseYuan(a.Balance, money.NonNegative)
	if err != nil {
		return false
	}
	debit, err := money.ParseYuan(a.Debit, money.Positive)
	if err != nil {
		return false
	}
	return balance < debit
}

// submitPayPage confirms the payment: it checks the CSRF token, verifies
// the applicant again with the configured verifier, settles the order and
// sends the browser on with 303 See Other, to redirect_url when paid and
// to fail_url otherwise.
func (p *Pages) submitPayPage(w http.ResponseWriter, r *http.Request) {
	ticket := r.PathValue("ticket")
	if !p.parseForm(w, r, payFlow, ticket) {
		return
	}

	redirect, err := p.cfg.Pay.ConfirmPay(r.Context(), ticket, p.cfg.Verifier, formEvidence(r))
	if err != nil {
		p.renderFlowError(w, r, payFlow, "confirm payment page", err)
		return
	}
	http.Redirect(w, r, redirect, http.StatusSeeOther)
}
