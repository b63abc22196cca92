// Package sdk is the third-party platform's client of the Fujian
// healthcare-security platform's interface for commercial supplementary
// medical insurance. A Client seals each request (signature, then
// encryption) with the channel's keys, posts it, and opens the response. It
// hands the caller only data whose signature it has verified.
//
// # Result layers
//
// The platform's responses have three layers, and Call checks them in order.
// First comes the protocol result: codes 10001–10099 are unsigned faults
// that reject the request before any processing (*ProtocolError). Next is
// the business result: a signed response with a code other than 0
// (*BusinessError). Last is the transaction status inside the data, such
// as pay_result, which the caller checks. A response that fails
// verification is a *VerificationError, and a failed exchange is a
// *TransportError. Code returns the wire code of an error.
//
// # Unknown outcomes
//
// When a request may have reached the platform but no verified response came
// back, OutcomeUnknown(err) is true. A caller that moves money then queries
// the order (CI00.02.00.04) before it tries again. The client never retries
// such a request by itself. The only retry it makes is after a 10004 fault
// in token mode, which the platform sends before processing.
//
// # Token mode
//
// With WithTokenMode(true), the client fetches an access token from
// /oauth/token (OAuth 2.0 client credentials) and sends it in place of the
// appsecret. The token is cached until shortly before its expires_in and
// shared by concurrent calls. Signature and encryption stay in force.
//
// # Payment callbacks
//
// After a payment ends, the platform posts its result to the order's
// notify_url. NewNotifyHandler returns the http.Handler that receives it:
// it verifies the callback with the client's keys and clock, and passes
// only a verified api.PaymentNotice to the caller's function. Callbacks
// arrive at least once, so that function must be idempotent by hi_pay_no.
//
// The package logs nothing and imports nothing of the platform's side, so
// integrators can vendor it with the protocol and api packages alone.
package sdk
