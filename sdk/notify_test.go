package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/protocol"
	"chsgate/sdk"
)

// unusedBaseURL is the base URL of clients that only verify callbacks and
// never call the platform.
const unusedBaseURL = "http://127.0.0.1:9"

var paidNotice = api.PaymentNotice{
	MedfeeSumamt:  "588.00",
	AcctPay:       "588.00",
	AcctMulaidPay: "0.00",
	PsnCashPay:    "0.00",
	PayResult:     "1",
	RedirectURL:   "https://hmb.example.cn/paid",
	HiPayNo:       "HMB20261204000001",
}

// noticeRecorder is a handle function that records the notices it gets and
// returns err.
type noticeRecorder struct {
	mu      sync.Mutex
	notices []api.PaymentNotice
	err     error
}

func (r *noticeRecorder) handle(_ context.Context, n *api.PaymentNotice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, *n)
	return r.err
}

func (r *noticeRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.notices)
}

// sealCallback seals notice as the platform's callback of ch, stamped at
// sentAt, with the platform's keys.
func sealCallback(t *testing.T, ch channel, appID, funID string, sentAt time.Time, notice any) []byte {
	t.Helper()
	keys, err := ch.platformKeys()
	if err != nil {
		t.Fatalf("platform keys: %v", err)
	}
	payload, err := json.Marshal(notice)
	if err != nil {
		t.Fatal(err)
	}
	body, err := ch.profile.SealRequest(keys, &protocol.Request{
		AppID:     appID,
		FunID:     funID,
		Timestamp: ch.profile.FormatTimestamp(sentAt),
		Payload:   payload,
	})
	if err != nil {
		t.Fatalf("seal the callback: %v", err)
	}
	return body
}

func newNotifyHandler(t *testing.T, ch channel, clock *fakeClock, recorder *noticeRecorder, opts ...sdk.NotifyOption) *sdk.NotifyHandler {
	t.Helper()
	client := newClient(t, unusedBaseURL, ch, clock.Now)
	return sdk.NewNotifyHandler(client, recorder.handle, opts...)
}

type ack struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// postCallback serves one POST of body and returns the HTTP status and the
// decoded acknowledgement.
func postCallback(t *testing.T, h http.Handler, body []byte) (int, ack) {
	t.Helper()
	request := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	response := httptest.NewRecorder()
	h.ServeHTTP(response, request)

	var a ack
	if err := json.Unmarshal(response.Body.Bytes(), &a); err != nil {
		t.Fatalf("acknowledgement %q is not JSON: %v", response.Body.String(), err)
	}
	return response.Code, a
}

func TestNotifyHandlerAcceptsValidNotice(t *testing.T) {
	sm2 := demoChannel()
	sm2.signType = protocol.SignSM2
	rsa := demoChannel()
	rsa.signType = protocol.SignRSA
	md5 := demoChannel()
	md5.signType = protocol.SignMD5
	clear := demoChannel()
	clear.encType = protocol.EncNone
	hsa := hsaChannel()
	channels := map[string]channel{
		"SM3 and SM4": demoChannel(),
		"MD5":         md5,
		"SM2":         sm2,
		"RSA":         rsa,
		"clear text":  clear,
		"hsa profile": hsa,
	}
	for name, ch := range channels {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			recorder := &noticeRecorder{}
			h := newNotifyHandler(t, ch, clock, recorder)

			body := sealCallback(t, ch, ch.appID, api.FunNotify, clock.Now(), paidNotice)
			status, a := postCallback(t, h, body)

			if status != http.StatusOK {
				t.Errorf("HTTP status = %d, want 200", status)
			}
			if a.Code != 0 {
				t.Errorf("acknowledgement code = %d (%s), want 0", a.Code, a.Message)
			}
			if recorder.count() != 1 {
				t.Fatalf("handle called %d times, want 1", recorder.count())
			}
			if recorder.notices[0] != paidNotice {
				t.Errorf("handle got %+v, want %+v", recorder.notices[0], paidNotice)
			}
		})
	}
}

func TestNotifyHandlerFailedPayment(t *testing.T) {
	ch := demoChannel()
	clock := newFakeClock()
	recorder := &noticeRecorder{}
	h := newNotifyHandler(t, ch, clock, recorder)
	failed := api.PaymentNotice{
		MedfeeSumamt: "588.00", AcctPay: "0.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
		PayResult: "0", RedirectURL: "https://hmb.example.cn/paid", FailMsg: "个账余额不足",
		HiPayNo: "HMB20261204000002", FailCode: "20025",
	}

	_, a := postCallback(t, h, sealCallback(t, ch, ch.appID, api.FunNotify, clock.Now(), failed))

	if a.Code != 0 {
		t.Errorf("acknowledgement code = %d (%s), want 0", a.Code, a.Message)
	}
	if recorder.count() != 1 || recorder.notices[0] != failed {
		t.Errorf("handle got %+v, want one %+v", recorder.notices, failed)
	}
}

func TestNotifyHandlerTimestampWindowEdge(t *testing.T) {
	ch := demoChannel()
	clock := newFakeClock()
	recorder := &noticeRecorder{}
	h := newNotifyHandler(t, ch, clock, recorder)
	now := clock.Now()

	for _, sentAt := range []time.Time{now.Add(-protocol.DefaultTimestampWindow), now.Add(protocol.DefaultTimestampWindow)} {
		_, a := postCallback(t, h, sealCallback(t, ch, ch.appID, api.FunNotify, sentAt, paidNotice))
		if a.Code != 0 {
			t.Errorf("callback sent %v from the clock: code %d (%s), want 0", sentAt.Sub(now), a.Code, a.Message)
		}
	}
}

func TestNotifyHandlerRejects(t *testing.T) {
	ch := demoChannel()
	otherKeys := ch
	otherKeys.bizKey = "another-bizkey"
	clearChannel := ch
	clearChannel.encType = protocol.EncNone
	stale := 601 * time.Second

	cases := []struct {
		name     string
		body     func(t *testing.T, now time.Time) []byte
		wantCode int
	}{
		{
			name: "tampered signature",
			body: func(t *testing.T, now time.Time) []byte {
				return tamperSignature(t, sealCallback(t, ch, ch.appID, api.FunNotify, now, paidNotice))
			},
			wantCode: protocol.CodeBadSignature,
		},
		{
			name: "signed with another key",
			body: func(t *testing.T, now time.Time) []byte {
				return sealCallback(t, otherKeys, ch.appID, api.FunNotify, now, paidNotice)
			},
			wantCode: protocol.CodeBadSignature,
		},
		{
			name: "tampered ciphertext",
			body: func(t *testing.T, now time.Time) []byte {
				return tamperField(t, sealCallback(t, ch, ch.appID, api.FunNotify, now, paidNotice), protocol.FieldFJSEncData)
			},
			wantCode: protocol.CodeDecryptFailed,
		},
		{
			name: "business fields in clear",
			body: func(t *testing.T, now time.Time) []byte {
				return sealCallback(t, clearChannel, ch.appID, api.FunNotify, now, paidNotice)
			},
			wantCode: protocol.CodeCleartext,
		},
		{
			name: "wrong appid",
			body: func(t *testing.T, now time.Time) []byte {
				return sealCallback(t, ch, "other", api.FunNotify, now, paidNotice)
			},
			wantCode: protocol.CodeUnknownChannel,
		},
		{
			name: "wrong function id",
			body: func(t *testing.T, now time.Time) []byte {
				return sealCallback(t, ch, ch.appID, api.FunPayPage, now, paidNotice)
			},
			wantCode: protocol.CodeUnknownFunction,
		},
		{
			name: "stale timestamp",
			body: func(t *testing.T, now time.Time) []byte {
				return sealCallback(t, ch, ch.appID, api.FunNotify, now.Add(-stale), paidNotice)
			},
			wantCode: protocol.CodeBadTimestamp,
		},
		{
			name: "future timestamp",
			body: func(t *testing.T, now time.Time) []byte {
				return sealCallback(t, ch, ch.appID, api.FunNotify, now.Add(stale), paidNotice)
			},
			wantCode: protocol.CodeBadTimestamp,
		},
		{
			name: "missing hi_pay_no",
			body: func(t *testing.T, now time.Time) []byte {
				n := paidNotice
				n.HiPayNo = ""
				return sealCallback(t, ch, ch.appID, api.FunNotify, now, n)
			},
			wantCode: protocol.CodeBadField,
		},
		{
			name: "unknown pay_result",
			body: func(t *testing.T, now time.Time) []byte {
				n := paidNotice
				n.PayResult = "2"
				return sealCallback(t, ch, ch.appID, api.FunNotify, now, n)
			},
			wantCode: protocol.CodeBadField,
		},
		{
			name: "field of the wrong type",
			body: func(t *testing.T, now time.Time) []byte {
				return sealCallback(t, ch, ch.appID, api.FunNotify, now, map[string]any{"hi_pay_no": 42, "pay_result": "1"})
			},
			wantCode: protocol.CodeMalformed,
		},
		{
			name:     "not JSON",
			body:     func(*testing.T, time.Time) []byte { return []byte("code=0") },
			wantCode: protocol.CodeMalformed,
		},
		{
			name: "body too large",
			body: func(t *testing.T, now time.Time) []byte {
				return bytes.Repeat([]byte(" "), 64<<10+1)
			},
			wantCode: protocol.CodeTooLarge,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			recorder := &noticeRecorder{}
			var rejected []error
			h := newNotifyHandler(t, ch, clock, recorder, sdk.WithNotifyRejectHook(func(_ *http.Request, err error) {
				rejected = append(rejected, err)
			}))

			_, a := postCallback(t, h, tc.body(t, clock.Now()))

			if a.Code != tc.wantCode {
				t.Errorf("acknowledgement code = %d (%s), want %d", a.Code, a.Message, tc.wantCode)
			}
			if recorder.count() != 0 {
				t.Errorf("handle called %d times with %+v, want never", recorder.count(), recorder.notices)
			}
			if len(rejected) != 1 {
				t.Errorf("reject hook called %d times, want once", len(rejected))
			}
		})
	}
}

func TestNotifyHandlerRejectsReplay(t *testing.T) {
	ch := demoChannel()
	clock := newFakeClock()
	recorder := &noticeRecorder{}
	h := newNotifyHandler(t, ch, clock, recorder)
	body := sealCallback(t, ch, ch.appID, api.FunNotify, clock.Now(), paidNotice)

	if _, a := postCallback(t, h, body); a.Code != 0 {
		t.Fatalf("first delivery: code %d (%s), want 0", a.Code, a.Message)
	}
	clock.Advance(5 * time.Minute)
	_, a := postCallback(t, h, body)

	if a.Code != protocol.CodeReplay {
		t.Errorf("replay: code %d (%s), want %d", a.Code, a.Message, protocol.CodeReplay)
	}
	if recorder.count() != 1 {
		t.Errorf("handle called %d times, want once", recorder.count())
	}
}

func TestNotifyHandlerAcceptsResealedRetry(t *testing.T) {
	ch := demoChannel()
	clock := newFakeClock()
	recorder := &noticeRecorder{}
	h := newNotifyHandler(t, ch, clock, recorder)

	postCallback(t, h, sealCallback(t, ch, ch.appID, api.FunNotify, clock.Now(), paidNotice))
	clock.Advance(15 * time.Second)
	_, a := postCallback(t, h, sealCallback(t, ch, ch.appID, api.FunNotify, clock.Now(), paidNotice))

	// The platform stamps and signs each attempt anew, so a retry of the
	// same notice is no replay. handle gets it again and must be idempotent.
	if a.Code != 0 {
		t.Errorf("retry: code %d (%s), want 0", a.Code, a.Message)
	}
	if recorder.count() != 2 {
		t.Errorf("handle called %d times, want 2", recorder.count())
	}
}

func TestNotifyHandlerHandleError(t *testing.T) {
	ch := demoChannel()
	clock := newFakeClock()
	recorder := &noticeRecorder{err: errors.New("database unavailable")}
	var rejected error
	h := newNotifyHandler(t, ch, clock, recorder, sdk.WithNotifyRejectHook(func(_ *http.Request, err error) { rejected = err }))

	_, a := postCallback(t, h, sealCallback(t, ch, ch.appID, api.FunNotify, clock.Now(), paidNotice))

	if a.Code == 0 {
		t.Errorf("acknowledgement code = 0 after handle failed, want non-zero")
	}
	if a.Code != protocol.CodeInternal {
		t.Errorf("acknowledgement code = %d, want %d", a.Code, protocol.CodeInternal)
	}
	if recorder.count() != 1 {
		t.Errorf("handle called %d times, want once", recorder.count())
	}
	if rejected == nil || !strings.Contains(rejected.Error(), "database unavailable") {
		t.Errorf("reject hook got %v, want the handle error", rejected)
	}
}

func TestNotifyHandlerRejectsGet(t *testing.T) {
	ch := demoChannel()
	clock := newFakeClock()
	recorder := &noticeRecorder{}
	h := newNotifyHandler(t, ch, clock, recorder)

	response := httptest.NewRecorder()
	h.ServeHTTP(response, httptest.NewRequest(http.MethodGet, "/notify", nil))

	if response.Code != http.StatusMethodNotAllowed {
		t.Errorf("HTTP status = %d, want 405", response.Code)
	}
	if recorder.count() != 0 {
		t.Errorf("handle called %d times, want never", recorder.count())
	}
}

// tamperSignature changes one character of the callback's signature.
func tamperSignature(t *testing.T, body []byte) []byte {
	t.Helper()
	return tamperField(t, body, protocol.FieldFJSSign)
}

// tamperField changes the first character of a string field of body, keeping
// it valid base64 and hex.
func tamperField(t *testing.T, body []byte, name string) []byte {
	t.Helper()
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	value, ok := fields[name].(string)
	if !ok || value == "" {
		t.Fatalf("callback has no string field %s: %s", name, body)
	}
	replacement := "A"
	if value[0] == 'A' {
		replacement = "B"
	}
	fields[name] = replacement + value[1:]
	tampered, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return tampered
}
