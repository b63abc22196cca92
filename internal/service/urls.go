package service

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

	"chsgate/internal/channel"
	"chsgate/protocol"
)

// checkCallbackURL validates a redirect, fail or notify URL of a request:
// an absolute http or https URL whose host, with its port, is on the
// channel's allow-list. name is the field, for the error.
func checkCallbackURL(ch *channel.Channel, name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return protocol.NewError(protocol.CodeBadField, name)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !ch.AllowsURL(u.Hostname(), port) {
		return protocol.Wrap(protocol.CodeHostNotAllowed, fmt.Errorf("%s host %s", name, net.JoinHostPort(u.Hostname(), port)))
	}
	return nil
}

// withQuery returns raw with the parameters added to its query, keeping
// the parameters it already has.
func withQuery(raw string, params ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// failureRedirect is the address the browser goes to when a page ends in
// failure: failURL, or redirectURL when the request gave none, with the
// code and its message.
func failureRedirect(redirectURL, failURL string, code int, message string) string {
	target := failURL
	if target == "" {
		target = redirectURL
	}
	return withQuery(target, "code", strconv.Itoa(code), "message", message)
}

// origins returns the scheme://host[:port] of each URL, once each, for a
// page's Content-Security-Policy.
func origins(urls ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		origin := u.Scheme + "://" + u.Host
		if !seen[origin] {
			seen[origin] = true
			out = append(out, origin)
		}
	}
	return out
}
