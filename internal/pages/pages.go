// Package pages serves the H5 pages that insured persons open from a third
// party's app: the authorization page, the payment page, and in sandbox mode
// the simulator endpoints that complete a page without a phone.
//
// The pages are Chinese, mobile first and work without JavaScript. They load
// nothing from elsewhere, carry a CSRF token in every form, and show names
// and ID numbers only masked. The pages know no SQL: they call the business
// services through AuthFlow and PayFlow.
package pages

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"chsgate/internal/service"
	"chsgate/internal/verify"
)

// AuthFlow is the part of the business services the authorization page
// uses. *service.Services implements it.
type AuthFlow interface {
	// AuthTicket returns the masked view of an open page, or
	// service.ErrTicketNotFound, ErrTicketExpired or ErrTicketUsed.
	AuthTicket(ctx context.Context, ticket string) (*service.AuthTicketView, error)
	// CompleteAuth verifies the applicant with v and returns the address to
	// send the browser to. An error means there is no address.
	CompleteAuth(ctx context.Context, ticket string, v verify.Verifier, evidence map[string]string) (string, error)
}

// PayFlow is the part of the business services the payment page uses.
// *service.Services implements it.
type PayFlow interface {
	// PayTicket returns the masked view of an open payment page, or
	// service.ErrTicketNotFound, ErrTicketExpired or ErrTicketUsed.
	PayTicket(ctx context.Context, ticket string) (*service.PayTicketView, error)
	// ConfirmPay verifies the applicant with v, settles the order, and
	// returns the address to send the browser to. An error means there is
	// no address.
	ConfirmPay(ctx context.Context, ticket string, v verify.Verifier, evidence map[string]string) (string, error)
	// DeclinePay returns the address for a person who declined to pay,
	// and settles nothing. Only the sandbox API calls it.
	DeclinePay(ctx context.Context, ticket string) (string, error)
}

// Config assembles Pages.
type Config struct {
	Auth AuthFlow
	// Pay serves the payment page. When nil, /h5/pay/ and /sandbox/pay/
	// respond with 404 Not Found.
	Pay PayFlow
	// Verifier checks identity and face when a page is submitted. When nil
	// it is verify.Simulator in sandbox mode and verify.Unavailable
	// otherwise, so production mode fails closed.
	Verifier verify.Verifier
	// Sandbox shows the simulator on the pages and enables /sandbox/*.
	Sandbox bool
	// CSRFKey keys the pages' CSRF tokens. When empty, New generates a
	// random key, so tokens do not survive a restart and are not accepted
	// by another process.
	CSRFKey []byte
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Pages serves the H5 pages.
type Pages struct {
	cfg Config
}

// New returns the pages for cfg, filling in defaults. A verify.Simulator
// given outside sandbox mode is replaced by verify.Unavailable, because it
// would confirm anyone who presses the right button.
func New(cfg Config) *Pages {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Verifier.(type) {
	case nil:
		if cfg.Sandbox {
			cfg.Verifier = verify.Simulator{}
		} else {
			cfg.Verifier = verify.Unavailable{}
		}
	case verify.Simulator, *verify.Simulator:
		if !cfg.Sandbox {
			cfg.Logger.Error("the face-check simulator is allowed only in sandbox mode; pages will reject every verification")
			cfg.Verifier = verify.Unavailable{}
		}
	}
	if len(cfg.CSRFKey) == 0 {
		cfg.CSRFKey = make([]byte, 32)
		rand.Read(cfg.CSRFKey)
	}
	return &Pages{cfg: cfg}
}

// Handler returns the pages' routes: /h5/auth/{ticket} and
// /h5/pay/{ticket}, and in sandbox mode only
// /sandbox/auth/{ticket}/complete and /sandbox/pay/{ticket}/confirm.
func (p *Pages) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /h5/auth/{ticket}", p.serveAuthPage)
	mux.HandleFunc("POST /h5/auth/{ticket}", p.submitAuthPage)
	if p.cfg.Pay != nil {
		mux.HandleFunc("GET /h5/pay/{ticket}", p.servePayPage)
		mux.HandleFunc("POST /h5/pay/{ticket}", p.submitPayPage)
	}
	if p.cfg.Sandbox {
		mux.HandleFunc("POST /sandbox/auth/{ticket}/complete", p.completeSandboxAuth)
		if p.cfg.Pay != nil {
			mux.HandleFunc("POST /sandbox/pay/{ticket}/confirm", p.confirmSandboxPay)
		}
	}
	return securityHeaders(mux)
}

// contentSecurityPolicy allows only the inline styles of the pages and
// forms posted back to the platform. An open authorization or payment page,
// whose form ends at the third party, widens form-action with
// policyWithFormTargets.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"

// policyWithFormTargets is the policy of a page whose form's response
// redirects to the given origins. Chromium (checked with 156) applies
// form-action to every redirect that follows a form's POST, so 'self' alone
// would block the 303 to redirect_url and fail_url.
func policyWithFormTargets(targets []string) string {
	return strings.Replace(contentSecurityPolicy, "form-action 'self'", "form-action 'self' "+strings.Join(targets, " "), 1)
}

// securityHeaders sets the headers every response of the pages carries,
// errors and 404s included. No page may be cached, because each carries
// personal data and a CSRF token.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// newRequestID returns a random id that ties an error page to its log line.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
