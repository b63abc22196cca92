package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"chsgate/api"
	"chsgate/protocol"
)

const (
	// defaultMaxNotifyBytes bounds a callback body. A sealed payment notice
	// has about 1 KB, so the limit leaves room without letting a peer make
	// the handler buffer an arbitrary body.
	defaultMaxNotifyBytes = 64 << 10
	// defaultReplayCapacity bounds the sign-string digests a NotifyHandler
	// remembers. An entry takes about 100 bytes, so the cache stays under
	// 10 MB.
	defaultReplayCapacity = 65536
)

// NotifyHandler receives the platform's payment-result callbacks
// (CI00.02.00.NOTIFY), posted to the notify_url of CI00.02.00.01. For each
// callback it:
//
//  1. reads the body, up to 64 KiB;
//  2. decodes the envelope in the client's profile and checks that the
//     function id is CI00.02.00.NOTIFY and the appid is the client's;
//  3. checks that the timestamp is within ±600 s of the client's clock;
//  4. decrypts the business fields and verifies the signature with the
//     client's keys, the same keys that verify the platform's responses;
//  5. rejects a message whose sign string it has already accepted within
//     the timestamp window (a replay);
//  6. decodes the business fields into an api.PaymentNotice and calls the
//     handle function.
//
// It acknowledges with {"code":0} only when handle returns nil. Every other
// response has a non-zero code, so the platform sends the callback again
// later, with a new timestamp and signature. Data that failed a check
// never reaches handle.
//
// Deliveries are at least once: the platform sends a notice again when an
// acknowledgement is lost or late, and after a restart. So handle must be
// idempotent by HiPayNo: a second notice for an order already recorded
// changes nothing and returns nil.
//
// The replay memory is per handler and in memory. Receivers behind a load
// balancer each keep their own, so a replay sent to another instance passes
// this check, and only an idempotent handle makes it harmless.
type NotifyHandler struct {
	client   *Client
	handle   func(ctx context.Context, n *api.PaymentNotice) error
	maxBytes int64
	onReject func(r *http.Request, err error)
	replays  *replayCache
}

// NotifyOption sets one of a NotifyHandler's settings.
type NotifyOption func(*NotifyHandler)

// WithNotifyRejectHook sets a function that the handler calls with each
// callback it does not acknowledge, and why: a failed check, or the error
// handle returned. The SDK logs nothing itself, so this is where a receiver
// logs rejected callbacks. The error never contains the channel's keys.
func WithNotifyRejectHook(hook func(r *http.Request, err error)) NotifyOption {
	return func(h *NotifyHandler) { h.onReject = hook }
}

// WithNotifyMaxBodyBytes sets the largest callback body the handler reads,
// 64 KiB by default. A larger body is rejected with code 10009.
func WithNotifyMaxBodyBytes(n int64) NotifyOption {
	return func(h *NotifyHandler) {
		if n > 0 {
			h.maxBytes = n
		}
	}
}

// NewNotifyHandler returns a handler that verifies the platform's payment
// callbacks with client's keys and clock, and passes each verified notice
// to handle. It panics when client or handle is nil, because such a
// handler could never acknowledge a callback.
func NewNotifyHandler(client *Client, handle func(ctx context.Context, n *api.PaymentNotice) error, opts ...NotifyOption) *NotifyHandler {
	if client == nil || client.keys == nil {
		panic("sdk: NewNotifyHandler needs a client made by sdk.New")
	}
	if handle == nil {
		panic("sdk: NewNotifyHandler needs a handle function")
	}
	h := &NotifyHandler{
		client:   client,
		handle:   handle,
		maxBytes: defaultMaxNotifyBytes,
		replays:  newReplayCache(defaultReplayCapacity),
	}
	for _, opt := range opts {
		opt(h)
	}
	return h
}

// notifyAck is the receiver's response to a callback.
type notifyAck struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
}

// ServeHTTP responds to one callback with {"code":0} when handle accepted
// the notice. Otherwise the code is that of the check that failed, taken
// from the platform's own table (10001 malformed, 10003 wrong appid, 10005
// timestamp, 10006 signature, 10007 decryption, 10008 replay, 10009 too
// large, 10010 wrong function id, 20100 invalid notice field), or 50101
// when handle failed or the replay memory is full.
func (h *NotifyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, r, http.StatusMethodNotAllowed, protocol.Wrap(protocol.CodeMalformed, fmt.Errorf("method %s is not POST", r.Method)))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxBytes+1))
	if err != nil {
		h.reject(w, r, http.StatusBadRequest, protocol.Wrap(protocol.CodeMalformed, fmt.Errorf("read the callback body: %w", err)))
		return
	}
	if int64(len(body)) > h.maxBytes {
		h.reject(w, r, http.StatusRequestEntityTooLarge, protocol.Wrap(protocol.CodeTooLarge, fmt.Errorf("callback body exceeds %d bytes", h.maxBytes)))
		return
	}

	notice, err := h.verify(body)
	if err != nil {
		h.reject(w, r, http.StatusOK, err)
		return
	}
	if err := h.handle(r.Context(), notice); err != nil {
		h.reject(w, r, http.StatusOK, protocol.Wrap(protocol.CodeInternal, fmt.Errorf("handle the notice of hi_pay_no %s: %w", notice.HiPayNo, err)))
		return
	}
	writeAck(w, http.StatusOK, notifyAck{Code: protocol.CodeOK})
}

// verify runs every check of a callback body and returns its notice. Each
// error is a *protocol.Error, whose code the response carries.
func (h *NotifyHandler) verify(body []byte) (*api.PaymentNotice, error) {
	c := h.client
	envelope, err := c.profile.DecodeRequest(body)
	if err != nil {
		return nil, err
	}
	// Cheap checks come first, so junk costs no cryptography. The sign
	// string covers both fields, so the signature check below confirms them.
	if envelope.FunID != api.FunNotify {
		return nil, protocol.Wrap(protocol.CodeUnknownFunction, fmt.Errorf("function id %q is not %s", envelope.FunID, api.FunNotify))
	}
	if envelope.AppID != c.appID {
		return nil, protocol.Wrap(protocol.CodeUnknownChannel, fmt.Errorf("appid %q is not the client's %q", envelope.AppID, c.appID))
	}
	now := c.now()
	if err := c.profile.CheckTimestamp(envelope.Timestamp, now, protocol.DefaultTimestampWindow); err != nil {
		return nil, err
	}
	sentAt, _ := c.profile.ParseTimestamp(envelope.Timestamp) // CheckTimestamp parsed it

	opened, err := envelope.OpenWithDigest(c.keys)
	if err != nil {
		return nil, err
	}
	if opened.Payload == nil {
		return nil, protocol.Wrap(protocol.CodeMalformed, errors.New("callback carries no business fields"))
	}
	var notice api.PaymentNotice
	if err := json.Unmarshal(opened.Payload, &notice); err != nil {
		return nil, protocol.Wrap(protocol.CodeMalformed, fmt.Errorf("business fields do not fit a payment notice: %w", err))
	}
	if notice.HiPayNo == "" {
		return nil, protocol.NewError(protocol.CodeBadField, "hi_pay_no")
	}
	if notice.PayResult != "0" && notice.PayResult != "1" {
		return nil, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("pay_result %q is neither 1 nor 0", notice.PayResult), "pay_result")
	}

	// Remembered only now, so a forged copy of a genuine message cannot
	// take the genuine one's place in the cache. A message is kept until
	// its timestamp leaves the window, after which CheckTimestamp rejects
	// it anyway.
	if err := h.replays.add(opened.SignDigest, now, sentAt.Add(protocol.DefaultTimestampWindow)); err != nil {
		return nil, err
	}
	return &notice, nil
}

func (h *NotifyHandler) reject(w http.ResponseWriter, r *http.Request, status int, err error) {
	if h.onReject != nil {
		h.onReject(r, err)
	}
	var e *protocol.Error
	if !errors.As(err, &e) {
		e = protocol.NewError(protocol.CodeInternal)
	}
	writeAck(w, status, notifyAck{Code: e.Code, Message: e.Message})
}

func writeAck(w http.ResponseWriter, status int, ack notifyAck) {
	body, _ := json.Marshal(ack) // a struct of an int and a string always encodes
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	w.Write(body)
}

// replayCache remembers the sign-string digests of accepted callbacks until
// they expire. It holds at most capacity digests. When it is full of
// unexpired ones it rejects new callbacks, so the platform retries them
// later, rather than forgetting a digest whose replay would then pass.
type replayCache struct {
	mu       sync.Mutex
	capacity int
	expiry   map[[sha256.Size]byte]time.Time
}

func newReplayCache(capacity int) *replayCache {
	return &replayCache{capacity: capacity, expiry: make(map[[sha256.Size]byte]time.Time)}
}

// add records digest until expires. It returns a CodeReplay error when the
// digest is recorded and not yet expired at now.
func (c *replayCache) add(digest [sha256.Size]byte, now, expires time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.expiry[digest]; ok && now.Before(until) {
		return protocol.NewError(protocol.CodeReplay)
	}
	if len(c.expiry) >= c.capacity {
		for d, until := range c.expiry {
			if !now.Before(until) {
				delete(c.expiry, d)
			}
		}
	}
	if len(c.expiry) >= c.capacity {
		return protocol.Wrap(protocol.CodeInternal, fmt.Errorf("replay cache is full with %d unexpired callbacks: retry later", c.capacity))
	}
	c.expiry[digest] = expires
	return nil
}
