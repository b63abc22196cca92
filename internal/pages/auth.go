package pages

import (
	"errors"
	"net/http"
	"time"

	"chsgate/internal/service"
	"chsgate/internal/verify"
)

// maxFormBytes bounds a page's form body. The form has a token and a few
// short fields.
const maxFormBytes = 16 << 10

// shanghai is the zone of the times the pages show. China has kept UTC+8
// all year since 1991, so a fixed zone needs no tzdata on the server.
var shanghai = time.FixedZone("CST", 8*60*60)

// authPage is the data of the authorization page.
type authPage struct {
	Title       string
	Sandbox     bool
	View        *service.AuthTicketView
	PersonCount int
	ExpiresAt   string
	CSRFField   string
	CSRFToken   string
}

// pageError is the status and text with which a page or the sandbox API
// reports an error of a flow.
type pageError struct {
	status  int
	code    string // for the sandbox API's JSON
	heading string
	detail  string
}

// flow contains the parts of error reporting that differ between the
// authorization and the payment flow: the wording of logs and pages, and
// the page error for each state of the ticket.
type flow struct {
	name string // in log messages: "authorization" or "payment"
	// page is the page's Chinese name, for the text of the CSRF error.
	page       string
	notFound   pageError
	expired    pageError
	used       pageError
	noVerifier pageError
}

var authFlow = flow{
	name:       "authorization",
	page:       "授权页面",
	notFound:   pageError{http.StatusNotFound, "ticket_not_found", "链接不存在", "请返回第三方应用重新发起授权。"},
	expired:    pageError{http.StatusGone, "ticket_expired", "链接已过期，请返回重新发起", "授权页面打开后需在有效期内完成，请返回第三方应用重新发起授权。"},
	used:       pageError{http.StatusConflict, "ticket_used", "授权已完成，请勿重复提交", "请返回第三方应用查看授权结果。"},
	noVerifier: pageError{http.StatusServiceUnavailable, "verifier_not_configured", "身份核验服务未配置，暂时无法授权", "请稍后再试，或联系第三方平台客服。"},
}

var errPageInternal = pageError{http.StatusInternalServerError, "internal_error", "系统繁忙", "请稍后再试。"}

// classify maps an error of the flow to the page error the person gets.
// ok is false for system errors, which the caller logs.
func (f flow) classify(err error) (pe pageError, ok bool) {
	switch {
	case errors.Is(err, service.ErrTicketNotFound):
		return f.notFound, true
	case errors.Is(err, service.ErrTicketExpired):
		return f.expired, true
	case errors.Is(err, service.ErrTicketUsed):
		return f.used, true
	case errors.Is(err, verify.ErrNotConfigured):
		return f.noVerifier, true
	}
	return errPageInternal, false
}

// serveAuthPage shows the authorization page. Opening it does not use the
// ticket up, because link previews fetch it too.
func (p *Pages) serveAuthPage(w http.ResponseWriter, r *http.Request) {
	ticket := r.PathValue("ticket")
	view, err := p.cfg.Auth.AuthTicket(r.Context(), ticket)
	if err != nil {
		p.renderFlowError(w, r, authFlow, "open authorization page", err)
		return
	}

	cookie := csrfCookieValue(r)
	setCSRFCookie(w, r, cookie, p.cfg.Now(), view.ExpiresAt)
	w.Header().Set("Content-Security-Policy", policyWithFormTargets(view.FormTargets))
	p.render(w, http.StatusOK, authTemplate, authPage{
		Title:       "医保在线服务授权",
		Sandbox:     p.cfg.Sandbox,
		View:        view,
		PersonCount: 1 + len(view.Others),
		ExpiresAt:   view.ExpiresAt.In(shanghai).Format("2006-01-02 15:04"),
		CSRFField:   csrfFieldName,
		CSRFToken:   csrfToken(p.cfg.CSRFKey, ticket, cookie),
	})
}

// submitAuthPage completes the page: it checks the CSRF token, verifies the
// applicant with the configured verifier and sends the browser on with 303
// See Other, so a reload does not post the form again.
func (p *Pages) submitAuthPage(w http.ResponseWriter, r *http.Request) {
	ticket := r.PathValue("ticket")
	if !p.parseForm(w, r, authFlow, ticket) {
		return
	}

	redirect, err := p.cfg.Auth.CompleteAuth(r.Context(), ticket, p.cfg.Verifier, formEvidence(r))
	if err != nil {
		p.renderFlowError(w, r, authFlow, "complete authorization page", err)
		return
	}
	http.Redirect(w, r, redirect, http.StatusSeeOther)
}

// parseForm reads the posted form of a page and checks its CSRF token. It
// renders the error page and returns false when either fails.
func (p *Pages) parseForm(w http.ResponseWriter, r *http.Request, f flow, ticket string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.cfg.Logger.InfoContext(r.Context(), f.name+" form rejected", "error", err)
		p.renderMessage(w, http.StatusBadRequest, "请求无效，请刷新后重试", "", "")
		return false
	}
	if !checkCSRF(p.cfg.CSRFKey, r, ticket, r.PostForm.Get(csrfFieldName)) {
		p.cfg.Logger.InfoContext(r.Context(), f.name+" form rejected: CSRF token missing or invalid")
		p.renderMessage(w, http.StatusForbidden, "页面已失效，请刷新后重试", "为保护您的信息安全，请重新打开"+f.page+"后再提交。", "")
		return false
	}
	return true
}

// formEvidence returns the posted fields except the CSRF token, first value
// each, as the verifier's evidence. For the simulator it is face=pass|fail.
func formEvidence(r *http.Request) map[string]string {
	evidence := make(map[string]string, len(r.PostForm))
	for name, values := range r.PostForm {
		if name == csrfFieldName || len(values) == 0 {
			continue
		}
		evidence[name] = values[0]
	}
	return evidence
}

// renderFlowError renders the page for an error of the flow and logs it. A
// system error is logged with a request id that the page shows. The log
// never carries the ticket, which opens the page, nor any name or ID
// number.
func (p *Pages) renderFlowError(w http.ResponseWriter, r *http.Request, f flow, action string, err error) {
	pe, ok := f.classify(err)
	requestID := ""
	switch {
	case !ok:
		requestID = newRequestID()
		p.cfg.Logger.ErrorContext(r.Context(), action+" failed", "request_id", requestID, "error", err)
	case pe.status == http.StatusServiceUnavailable:
		requestID = newRequestID()
		p.cfg.Logger.ErrorContext(r.Context(), action+" failed: identity verification is not configured", "request_id", requestID, "error", err)
	default:
		p.cfg.Logger.InfoContext(r.Context(), action+" rejected", "status", pe.status, "reason", err)
	}
	p.renderMessage(w, pe.status, pe.heading, pe.detail, requestID)
}
