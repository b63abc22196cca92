package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"chsgate/protocol"
)

// maxTokenRefreshMargin is how long before its expiry an access token is
// replaced, so a request signed just before expiry does not reach the
// platform just after it. Tokens that live under two minutes are replaced
// at half their lifetime instead.
const maxTokenRefreshMargin = 60 * time.Second

// maxTokenLifetime caps the lifetime that a token response may claim.
const maxTokenLifetime = 365 * 24 * time.Hour

// tokenSource caches the channel's access token and fetches a new one when
// it expires or the platform rejects it. Concurrent callers share one
// fetch.
type tokenSource struct {
	client *Client

	mu     sync.Mutex
	token  string
	expiry time.Time // the zero time when the platform sent no expires_in
	fetch  *tokenFetch
}

// tokenFetch is one request to the token endpoint that callers wait on.
type tokenFetch struct {
	done  chan struct{} // closed when token and err are set
	token string
	err   error
	// canceled is set when the fetch failed because the context of the
	// caller that ran it ended, so waiters with live contexts try again.
	canceled bool
}

// get returns a valid access token, fetching one when none is cached.
func (s *tokenSource) get(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		if s.token != "" && (s.expiry.IsZero() || s.client.now().Before(s.expiry)) {
			token := s.token
			s.mu.Unlock()
			return token, nil
		}
		fetch := s.fetch
		if fetch == nil {
			fetch = &tokenFetch{done: make(chan struct{})}
			s.fetch = fetch
			s.mu.Unlock()
			s.run(ctx, fetch)
			return fetch.token, fetch.err
		}
		s.mu.Unlock()

		select {
		case <-fetch.done:
			if fetch.err == nil {
				return fetch.token, nil
			}
			if !fetch.canceled || ctx.Err() != nil {
				return "", fetch.err
			}
		case <-ctx.Done():
			return "", fmt.Errorf("wait for the access token: %w", ctx.Err())
		}
	}
}

// run fetches a token for fetch, caches it, and wakes the waiters.
func (s *tokenSource) run(ctx context.Context, fetch *tokenFetch) {
	start := s.client.now()
	token, lifetime, err := s.client.fetchToken(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.token = token
		s.expiry = time.Time{}
		if lifetime >= 0 {
			margin := min(maxTokenRefreshMargin, lifetime/2)
			s.expiry = start.Add(lifetime - margin)
		}
	}
	fetch.token, fetch.err = token, err
	fetch.canceled = err != nil && ctx.Err() != nil
	s.fetch = nil
	close(fetch.done)
}

// invalidate drops token from the cache unless another caller has already
// replaced it.
func (s *tokenSource) invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token = ""
		s.expiry = time.Time{}
	}
}

// tokenResponse is the response of /oauth/token. Code and Message are set
// when the platform responds in its own fault layout instead.
type tokenResponse struct {
	AccessToken      string      `json:"access_token"`
	ExpiresIn        json.Number `json:"expires_in"`
	Code             json.Number `json:"code"`
	Message          string      `json:"message"`
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description"`
}

// fetchToken requests an access token with the OAuth 2.0 client
// credentials grant and returns it with its lifetime, which is -1 when the
// platform sent none. A token without a lifetime is kept until the platform
// rejects it with 10004. No business request is sent while it runs, so a
// *TransportError from it has a known outcome.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.appID},
		"client_secret": {c.appSecret},
	}
	status, body, err := c.send(ctx, c.tokenURL, "application/x-www-form-urlencoded", []byte(form.Encode()))
	var transportErr *TransportError
	if errors.As(err, &transportErr) {
		transportErr.outcomeUnknown = false
		return "", 0, transportErr
	}
	if err != nil {
		return "", 0, err
	}

	var parsed tokenResponse
	decodeErr := json.Unmarshal(body, &parsed)
	if decodeErr == nil && parsed.Code != "" && parsed.Code != "0" {
		code, err := parsed.Code.Int64()
		if err != nil {
			return "", 0, fmt.Errorf("token response from %s has code %q, want an integer", c.tokenURL, parsed.Code)
		}
		message := parsed.Message
		if message == "" {
			message = protocol.FormatMessage(int(code))
		}
		return "", 0, &ProtocolError{Code: int(code), Message: message}
	}
	if status != http.StatusOK {
		detail := fmt.Sprintf("unexpected HTTP status %d %s", status, http.StatusText(status))
		if decodeErr == nil && parsed.Error != "" {
			detail += fmt.Sprintf(", OAuth error %s %s", parsed.Error, parsed.ErrorDescription)
		}
		return "", 0, &TransportError{URL: c.tokenURL, StatusCode: status, Err: errors.New(detail)}
	}
	if decodeErr != nil {
		return "", 0, fmt.Errorf("token response from %s is not JSON: %w", c.tokenURL, decodeErr)
	}
	if parsed.AccessToken == "" {
		return "", 0, fmt.Errorf("token response from %s has no access_token", c.tokenURL)
	}

	if parsed.ExpiresIn == "" {
		return parsed.AccessToken, -1, nil
	}
	seconds, err := parsed.ExpiresIn.Float64()
	if err != nil || seconds < 0 {
		return "", 0, fmt.Errorf("token response from %s has expires_in %q, want a non-negative number of seconds", c.tokenURL, parsed.ExpiresIn)
	}
	// Clamp before converting, because a float beyond the range of
	// time.Duration does not convert to a defined value.
	seconds = min(seconds, maxTokenLifetime.Seconds())
	return parsed.AccessToken, time.Duration(seconds * float64(time.Second)), nil
}
