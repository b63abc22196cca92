package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"chsgate/protocol"
)

const contentTypeJSON = "application/json; charset=utf-8"

// Call calls the platform function funID, such as "CI00.01.00.03", with
// request as its business content and decodes the response's data into
// response. request is encoded with encoding/json and must encode to a JSON
// object in the fjs profile. A nil request sends no business content, which
// an encrypting channel rejects with 10002, and a nil response discards the
// data.
//
// Call checks the response in the order of the platform's result layers and
// returns:
//   - a *ProtocolError for a protocol fault (10001–10099), which the
//     platform does not sign;
//   - a *VerificationError when the response does not decode, decrypt or
//     verify, so no unverified data reaches the caller;
//   - a *BusinessError for a verified response whose code is not 0;
//   - a *DecodeError when the verified data does not fit response;
//   - a *TransportError when no response arrived, or one with an HTTP status
//     other than 200.
//
// In token mode, a 10004 fault drops the access token, and Call
// fetches a new token and sends the request once more, with a new timestamp
// and signature. Transaction status fields inside the data, such as
// pay_result, are the caller's to check.
func (c *Client) Call(ctx context.Context, funID string, request any, response any) error {
	if funID == "" {
		return errors.New("function id is empty: pass one such as CI00.01.00.03")
	}
	payload, err := encodeRequest(request)
	if err != nil {
		return fmt.Errorf("encode the %s request: %w", funID, err)
	}

	data, err := c.exchange(ctx, funID, payload)
	if err != nil {
		return err
	}
	if response == nil || data == nil {
		return nil
	}
	if err := json.Unmarshal(data, response); err != nil {
		return &DecodeError{FunID: funID, Data: data, Err: err}
	}
	return nil
}

// encodeRequest returns the JSON of request without HTML escaping, because
// the platform signs the characters as sent and expects & < > in clear. It
// returns nil for a request that encodes to null.
func encodeRequest(request any) ([]byte, error) {
	if request == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(request); err != nil {
		return nil, err
	}
	payload := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if string(payload) == "null" {
		return nil, nil
	}
	return payload, nil
}

// exchange sends the request and returns the verified data of a successful
// response. In token mode it retries once after a 10004 fault, because the
// platform may have revoked the token or restarted before its expiry.
func (c *Client) exchange(ctx context.Context, funID string, payload []byte) ([]byte, error) {
	if !c.tokenMode {
		return c.post(ctx, funID, payload, "")
	}

	token, err := c.tokens.get(ctx)
	if err != nil {
		return nil, err
	}
	data, err := c.post(ctx, funID, payload, token)
	var protocolErr *ProtocolError
	if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeAuthFailed {
		return data, err
	}

	c.tokens.invalidate(token)
	if token, err = c.tokens.get(ctx); err != nil {
		return nil, err
	}
	return c.post(ctx, funID, payload, token)
}

// post seals one request, stamped with the current time, sends it and opens
// the response. token is empty in key mode.
func (c *Client) post(ctx context.Context, funID string, payload []byte, token string) ([]byte, error) {
	request := &protocol.Request{
		AppID:     c.appID,
		FunID:     funID,
		Timestamp: c.profile.FormatTimestamp(c.stamp()),
		Payload:   payload,
	}
	if c.profile == protocol.ProfileFJS {
		if token != "" {
			request.Token = token
		} else {
			request.AppSecret = c.appSecret
		}
	}
	body, err := c.profile.SealRequest(c.keys, request)
	if err != nil {
		return nil, fmt.Errorf("seal the %s request: %w", funID, err)
	}

	target := c.requestURL(funID)
	status, responseBody, err := c.send(ctx, target, contentTypeJSON, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, &TransportError{
			URL:            target,
			StatusCode:     status,
			Err:            fmt.Errorf("unexpected HTTP status %d %s", status, http.StatusText(status)),
			outcomeUnknown: true,
		}
	}
	return c.open(funID, responseBody)
}

// open checks a response layer by layer: protocol fault, then signature and
// decryption, then business code.
func (c *Client) open(funID string, responseBody []byte) ([]byte, error) {
	envelope, err := c.profile.DecodeResponse(responseBody)
	if err != nil {
		return nil, &VerificationError{FunID: funID, Err: err}
	}
	if protocol.IsProtocolCode(envelope.Code) {
		message := envelope.Message
		if message == "" {
			message = protocol.FormatMessage(envelope.Code)
		}
		return nil, &ProtocolError{Code: envelope.Code, Message: message}
	}

	opened, err := envelope.Open(c.keys)
	if err != nil {
		verr := &VerificationError{FunID: funID, Err: err}
		if envelope.Signature == "" && envelope.Code != protocol.CodeOK {
			verr.UnsignedCode, verr.UnsignedMessage = envelope.Code, envelope.Message
		}
		return nil, verr
	}
	if envelope.Code != protocol.CodeOK {
		return nil, &BusinessError{Code: envelope.Code, Message: envelope.Message, Data: opened.Payload}
	}
	return opened.Payload, nil
}

// send posts body to target and returns the status and body of the
// response. A failure to exchange them is a *TransportError.
func (c *Client) send(ctx context.Context, target, contentType string, body []byte) (int, []byte, error) {
	// A request that never got a connection was not sent. Anything later
	// may have reached the platform, even when the error looks local.
	// net/http's Transport reports connections to the trace; another
	// RoundTripper may not, so only a dial error proves nothing was sent.
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	request, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, &TransportError{URL: target, Err: err}
	}
	request.Header.Set("Content-Type", contentType)
	request.Header.Set("Accept", "application/json")

	response, err := c.httpClient.Do(request)
	if err != nil {
		notSent := !connected.Load() && (c.tracesConnections() || isDialError(err))
		return 0, nil, &TransportError{URL: target, Err: err, outcomeUnknown: !notSent}
	}
	defer response.Body.Close()

	responseBody, err := io.ReadAll(io.LimitReader(response.Body, c.maxResponseBytes+1))
	if err != nil {
		return 0, nil, &TransportError{URL: target, StatusCode: response.StatusCode, Err: fmt.Errorf("read the response: %w", err), outcomeUnknown: true}
	}
	if int64(len(responseBody)) > c.maxResponseBytes {
		return 0, nil, &TransportError{
			URL:            target,
			StatusCode:     response.StatusCode,
			Err:            fmt.Errorf("response is larger than the maximum of %d bytes: raise it with WithMaxResponseBytes", c.maxResponseBytes),
			outcomeUnknown: true,
		}
	}
	return response.StatusCode, responseBody, nil
}

// tracesConnections reports whether the HTTP client's transport is
// net/http's, which calls the GotConn hook of a client trace.
func (c *Client) tracesConnections() bool {
	switch c.httpClient.Transport.(type) {
	case nil, *http.Transport:
		return true
	}
	return false
}

// isDialError reports whether err arose while opening a connection (name
// resolution or connect), before any byte of the request was written.
func isDialError(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}
