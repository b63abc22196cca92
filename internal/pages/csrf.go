package pages

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// The CSRF scheme is a signed double submit that keeps no server state. A
// GET sets a random cookie and puts HMAC-SHA256(CSRFKey, ticket, cookie) in
// the form. A POST is accepted only when the form's token equals the HMAC of
// the cookie it carries for that ticket. Another site can make a browser
// post the form, but it can neither read the cookie nor compute the HMAC
// without the key. The ticket in the HMAC stops a token of one page from
// completing another.
const (
	csrfCookieName = "chsgate_csrf"
	csrfCookiePath = "/h5/"
	csrfFieldName  = "csrf_token"
	// csrfCookieBytes is the size of the cookie's random value.
	csrfCookieBytes = 32
)

// csrfCookieLength is the length of the cookie's value as base64url text.
var csrfCookieLength = base64.RawURLEncoding.EncodedLen(csrfCookieBytes)

// csrfCookieValue returns the request's CSRF cookie value when it is well
// formed, or a new random one. Reusing the cookie keeps the tokens of pages
// open in other tabs valid.
func csrfCookieValue(r *http.Request) string {
	if c, err := r.Cookie(csrfCookieName); err == nil && validCSRFCookie(c.Value) {
		return c.Value
	}
	raw := make([]byte, csrfCookieBytes)
	rand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func validCSRFCookie(value string) bool {
	if len(value) != csrfCookieLength {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(value)
	return err == nil
}

// setCSRFCookie sends the cookie until expires, the ticket's end, after which
// the page is of no use. Secure is set when the request came over TLS, so
// the cookie also works on a plain-HTTP sandbox on localhost.
func setCSRFCookie(w http.ResponseWriter, r *http.Request, value string, now, expires time.Time) {
	maxAge := int(expires.Sub(now).Round(time.Second) / time.Second)
	if maxAge < 1 {
		maxAge = 1
	}
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookieName,
		Value:    value,
		Path:     csrfCookiePath,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// csrfToken returns the form token for ticket and the cookie value. A NUL
// byte separates the two, because a ticket from the URL has no fixed
// length.
func csrfToken(key []byte, ticket, cookie string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ticket))
	mac.Write([]byte{0})
	mac.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// checkCSRF reports whether the posted token belongs to ticket and to the
// request's CSRF cookie. The comparison takes constant time.
func checkCSRF(key []byte, r *http.Request, ticket, posted string) bool {
	c, err := r.Cookie(csrfCookieName)
	if err != nil || !validCSRFCookie(c.Value) || posted == "" {
		return false
	}
	want := csrfToken(key, ticket, c.Value)
	return hmac.Equal([]byte(posted), []byte(want))
}
