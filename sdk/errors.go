package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ProtocolError is a protocol fault returned by the platform: a code from
// 10001 to 10099 and its message. The platform rejected the request before
// any business processing, so the call had no effect.
//
// Protocol faults are unsigned on the wire, because the platform may not
// know the channel, so the SDK cannot verify them. Over plain HTTP an
// attacker on the path could forge one, and only TLS rules that out.
type ProtocolError struct {
	Code    int
	Message string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// BusinessError is a verified response whose code is not 0: the platform
// processed the request and rejected it for a business reason, such as
// 20019 (insufficient mutual-aid balance).
type BusinessError struct {
	Code    int
	Message string
	// Data is the verified, decrypted data of the response, or nil when the
	// response had none, as is usual for business errors.
	Data json.RawMessage
}

func (e *BusinessError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// TransportError is a failure to exchange a request and a response with the
// platform: a network error, a timeout, an HTTP status other than 200, or a
// response body that could not be read.
type TransportError struct {
	// URL is the address the request was sent to.
	URL string
	// StatusCode is the HTTP status of the response, or 0 when no response
	// arrived.
	StatusCode int
	// Err is the cause.
	Err error

	outcomeUnknown bool
}

func (e *TransportError) Error() string {
	// net/http's *url.Error already names the method and URL.
	cause := e.Err
	var urlErr *url.Error
	if errors.As(cause, &urlErr) {
		cause = urlErr.Err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s: %v", e.URL, cause)
	if e.outcomeUnknown {
		b.WriteString(" (the request may have reached the platform: query the outcome before retrying)")
	}
	return b.String()
}

func (e *TransportError) Unwrap() error { return e.Err }

// OutcomeUnknown reports whether the request may have reached the platform
// and been processed. It is false only when the SDK has proof that the business
// request was never sent: the connection could not be opened, or the access
// token could not be fetched. When it is true, a caller that moves money
// must query the order (CI00.02.00.04) before it retries with a new
// request number.
func (e *TransportError) OutcomeUnknown() bool { return e.outcomeUnknown }

// VerificationError is a response that the SDK could not decode, decrypt or
// verify. Its data is never passed to the caller. The request reached the
// platform, so the outcome of the call is unknown.
type VerificationError struct {
	// FunID is the function id of the call.
	FunID string
	// Err is the cause. It is a *protocol.Error whose code classifies the
	// failure as the platform would: 10001 malformed, 10002 missing
	// signature, 10006 wrong signature, 10007 decryption failed, or 10012
	// data in clear where the channel encrypts.
	Err error
	// UnsignedCode and UnsignedMessage are the code and message of an
	// unsigned response, which the platform sends when it cannot sign.
	// Nothing vouches for them, so they only help find the cause.
	// UnsignedCode is 0 for a signed response.
	UnsignedCode    int
	UnsignedMessage string
}

func (e *VerificationError) Error() string {
	if e.UnsignedCode != 0 {
		return fmt.Sprintf("verify the %s response: %v; the response is unsigned and claims %d %s (the outcome of the call is unknown: query it before retrying)",
			e.FunID, e.Err, e.UnsignedCode, e.UnsignedMessage)
	}
	return fmt.Sprintf("verify the %s response: %v (the outcome of the call is unknown: query it before retrying)", e.FunID, e.Err)
}

func (e *VerificationError) Unwrap() error { return e.Err }

// OutcomeUnknown returns true: the platform received the request, and
// nothing trustworthy is known of its response.
func (e *VerificationError) OutcomeUnknown() bool { return true }

// DecodeError is a verified, successful response whose data does not fit the
// response value passed to Call. The call succeeded at the platform, so a
// payment or a refund that it requested took place.
type DecodeError struct {
	// FunID is the function id of the call.
	FunID string
	// Data is the verified, decrypted data of the response.
	Data json.RawMessage
	// Err is the error of encoding/json.
	Err error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("the %s call succeeded, but its response data does not fit the response value: %v", e.FunID, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ConfigError lists every problem that Validate found in a client's
// settings.
type ConfigError struct {
	Problems []error
}

func (e *ConfigError) Error() string {
	texts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		texts[i] = p.Error()
	}
	return "invalid client settings: " + strings.Join(texts, "; ")
}

func (e *ConfigError) Unwrap() []error { return e.Problems }

// Code returns the result code that the platform sent with err: the code of
// a *ProtocolError or a *BusinessError. It returns 0 for nil and for every
// other error, whose code, if any, was not received from the platform.
func Code(err error) int {
	var protocolErr *ProtocolError
	if errors.As(err, &protocolErr) {
		return protocolErr.Code
	}
	var businessErr *BusinessError
	if errors.As(err, &businessErr) {
		return businessErr.Code
	}
	return 0
}

// OutcomeUnknown reports whether err leaves open whether the platform
// processed the request: a *TransportError whose OutcomeUnknown is true, or
// a *VerificationError. The SDK returns one of these for every failure
// after the request may have been sent. A *ProtocolError, a *BusinessError
// or a *DecodeError is a known outcome.
func OutcomeUnknown(err error) bool {
	var transportErr *TransportError
	if errors.As(err, &transportErr) {
		return transportErr.OutcomeUnknown()
	}
	var verificationErr *VerificationError
	return errors.As(err, &verificationErr)
}
