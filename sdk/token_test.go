package sdk_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/protocol"
	"chsgate/sdk"
)

func newTokenClient(t *testing.T, p *fakePlatform, ch channel, now func() time.Time, extra ...sdk.Option) *sdk.Client {
	t.Helper()
	return newClient(t, p.URL, ch, now, append([]sdk.Option{sdk.WithTokenMode(true)}, extra...)...)
}

func callInsured(t *testing.T, client *sdk.Client) {
	t.Helper()
	if _, err := client.Insured(t.Context(), insuredRequest(insuredPerson)); err != nil {
		t.Fatalf("Insured: %v", err)
	}
}

// tokensSent returns the chs_fjs_token of each gateway request received.
func tokensSent(p *fakePlatform) []string {
	var tokens []string
	for _, r := range p.recorded() {
		tokens = append(tokens, r.token)
	}
	return tokens
}

func TestTokenModeReusesToken(t *testing.T) {
	clock := newFakeClock()
	clock.step = time.Millisecond
	ch := demoChannel()
	p := startPlatform(t, ch, clock.Now)
	client := newTokenClient(t, p, ch, clock.Now)

	for range 3 {
		callInsured(t, client)
	}
	if n := p.tokenHits.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
	if got := fmt.Sprint(tokensSent(p)); got != "[token-1 token-1 token-1]" {
		t.Errorf("tokens sent = %s, want token-1 three times", got)
	}
	for _, r := range p.recorded() {
		if r.appSecret != "" {
			t.Errorf("token-mode request carries chs_fjs_appsecret %q, want none", r.appSecret)
		}
	}
}

func TestTokenRefreshAfterExpiry(t *testing.T) {
	clock := newFakeClock()
	ch := demoChannel()
	p := startPlatform(t, ch, clock.Now)
	client := newTokenClient(t, p, ch, clock.Now)

	callInsured(t, client)
	// The client replaces a token 60 s before its expires_in of 7200 s.
	clock.Advance((tokenLifetime - 61) * time.Second)
	callInsured(t, client)
	if n := p.tokenHits.Load(); n != 1 {
		t.Fatalf("token requests = %d at 61 s before expiry, want 1", n)
	}

	clock.Advance(2 * time.Second)
	callInsured(t, client)
	if n := p.tokenHits.Load(); n != 2 {
		t.Errorf("token requests = %d at 59 s before expiry, want 2", n)
	}
	if got := fmt.Sprint(tokensSent(p)); got != "[token-1 token-1 token-2]" {
		t.Errorf("tokens sent = %s, want token-1 twice, then token-2", got)
	}
}

func TestTokenRetryAfterRejection(t *testing.T) {
	clock := newFakeClock()
	clock.step = time.Millisecond
	ch := demoChannel()
	p := startPlatform(t, ch, clock.Now)
	client := newTokenClient(t, p, ch, clock.Now)

	callInsured(t, client)
	p.revokeTokens()
	callInsured(t, client)

	if n := p.gatewayHits.Load(); n != 3 {
		t.Errorf("gateway requests = %d, want 3: one call, then a rejected one and its retry", n)
	}
	if n := p.tokenHits.Load(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
	requests := p.recorded()
	if got := fmt.Sprint(tokensSent(p)); got != "[token-1 token-1 token-2]" {
		t.Fatalf("tokens sent = %s, want token-1, token-1 (rejected), token-2", got)
	}
	if requests[1].timestamp == requests[2].timestamp {
		t.Errorf("retry has the rejected request's timestamp %s, want a new one", requests[2].timestamp)
	}
}

func TestTokenRetryOnlyOnce(t *testing.T) {
	clock := newFakeClock()
	clock.step = time.Millisecond
	ch := demoChannel()
	p := startPlatform(t, ch, clock.Now, func(p *fakePlatform) { p.rejectTokens = true })
	client := newTokenClient(t, p, ch, clock.Now)

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var protocolErr *sdk.ProtocolError
	if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeAuthFailed {
		t.Fatalf("error = %v, want *sdk.ProtocolError 10004", err)
	}
	if n := p.gatewayHits.Load(); n != 2 {
		t.Errorf("gateway requests = %d, want 2: the call and one retry", n)
	}
	if n := p.tokenHits.Load(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
}

func TestKeyModeNoRetryOnAuthFailure(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	wrong := ch
	wrong.appSecret = "00000000000000000000000000000000"
	client := newClient(t, p.URL, wrong, nil)

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	if sdk.Code(err) != protocol.CodeAuthFailed {
		t.Fatalf("error = %v, want 10004", err)
	}
	if n := p.gatewayHits.Load(); n != 1 {
		t.Errorf("gateway requests = %d, want 1: key mode does not retry", n)
	}
}

func TestTokenConcurrentCallersShareFetch(t *testing.T) {
	const callers = 8
	clock := newFakeClock()
	clock.step = time.Millisecond
	ch := demoChannel()
	gate := make(chan struct{})
	p := startPlatform(t, ch, clock.Now, func(p *fakePlatform) { p.tokenGate = gate })
	client := newTokenClient(t, p, ch, clock.Now)

	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			person := insuredPerson
			person.Region = fmt.Sprintf("3501%02d", i)
			_, errs[i] = client.Insured(t.Context(), insuredRequest(person))
		})
	}

	// Hold the first token request until the other callers have had time
	// to ask for a token too.
	deadline := time.Now().Add(5 * time.Second)
	for p.tokenHits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := p.tokenHits.Load(); n != 1 {
		t.Errorf("token requests = %d for %d concurrent callers, want 1", n, callers)
	}
	if n := p.gatewayHits.Load(); n != callers {
		t.Errorf("gateway requests = %d, want %d", n, callers)
	}
	for _, token := range tokensSent(p) {
		if token != "token-1" {
			t.Errorf("token sent = %q, want token-1", token)
		}
	}
}

func TestTokenFetchRejected(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	wrong := ch
	wrong.appSecret = "00000000000000000000000000000000"
	client := newTokenClient(t, p, wrong, nil)

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var protocolErr *sdk.ProtocolError
	if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeAuthFailed {
		t.Fatalf("error = %v, want *sdk.ProtocolError 10004 from the token endpoint", err)
	}
	if protocolErr.Message != "渠道认证失败" {
		t.Errorf("Message = %q, want 渠道认证失败", protocolErr.Message)
	}
	if n := p.gatewayHits.Load(); n != 0 {
		t.Errorf("gateway requests = %d, want 0 without a token", n)
	}
}

func TestTokenFetchUnavailable(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil, func(p *fakePlatform) { p.tokenStatus = http.StatusServiceUnavailable })
	client := newTokenClient(t, p, ch, nil)

	err := client.Call(t.Context(), api.FunQuery, map[string]string{"hi_pay_no": "HP001"}, nil)
	var transportErr *sdk.TransportError
	if !errors.As(err, &transportErr) {
		t.Fatalf("error = %v (%T), want *sdk.TransportError", err, err)
	}
	if transportErr.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("StatusCode = %d, want 503", transportErr.StatusCode)
	}
	if transportErr.OutcomeUnknown() {
		t.Error("OutcomeUnknown = true, want false: the business request was never sent")
	}
	if n := p.gatewayHits.Load(); n != 0 {
		t.Errorf("gateway requests = %d, want 0", n)
	}
}
