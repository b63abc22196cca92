package notifier_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/notifier"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// The test channel's settings, shared by the platform's registry and the
// third party's SDK client.
const (
	appID     = "hmbnotify"
	orgCode   = "HMB001"
	appSecret = "0123456789abcdef0123456789abcdef"
	bizKey    = "notify-test-bizkey"
	salt      = "f2313d85601342b8b15c872286c6aaff"
	// channelPublicKey is the published demo key's public half; the
	// registry needs one, and callbacks do not use it.
	channelPublicKey = "04c8b6bc8cb8315cd777c961887ad91e77098e2adf1c6530fc60270434eedd2c4271dd0b5c8cd9a1689058aacd3f053cf7f2b6d98c48f9454e29fd44e5414196a8"
)

// Synthetic ID numbers: the birth date 00000000 belongs to no real person.
const (
	idHead   = "350100000000000001"
	idMember = "350100000000000002"
	idPoor   = "350100000000000004"
)

var t0 = time.Date(2026, 12, 4, 10, 15, 0, 0, protocol.Shanghai())

// ladder is the published retry schedule of payment callbacks.
var ladder = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 60 * time.Minute,
	3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// receiver is the third party's callback endpoint on 127.0.0.1: the SDK's
// NotifyHandler behind a hook that can respond to a request itself.
type receiver struct {
	server *httptest.Server
	clock  *fakeClock

	mu      sync.Mutex
	hits    []time.Time // the clock's time at each request
	notices []api.PaymentNotice
	// answer, when set, gets each request first with its 1-based number
	// and reports whether it wrote the response, bypassing the SDK handler.
	answer  func(n int, w http.ResponseWriter, r *http.Request) bool
	handler http.Handler
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.hits = append(r.hits, r.clock.Now())
	n, answer := len(r.hits), r.answer
	r.mu.Unlock()
	if answer != nil && answer(n, w, req) {
		return
	}
	r.handler.ServeHTTP(w, req)
}

func (r *receiver) handle(_ context.Context, n *api.PaymentNotice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, *n)
	return nil
}

func (r *receiver) setAnswer(answer func(n int, w http.ResponseWriter, r *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = answer
}

func (r *receiver) hitTimes() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.hits...)
}

func (r *receiver) handled() []api.PaymentNotice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]api.PaymentNotice(nil), r.notices...)
}

// recordingSender records the account messages it is given.
type recordingSender struct {
	mu       sync.Mutex
	messages []notifier.Message
}

func (s *recordingSender) Send(_ context.Context, m notifier.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	return nil
}

func (s *recordingSender) sent() []notifier.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notifier.Message(nil), s.messages...)
}

// logBuffer collects JSON log records from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log records whose level is level.
func (b *logBuffer) records(t *testing.T, level string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if record["level"] == level {
			out = append(out, record)
		}
	}
	return out
}

// env is one backend's platform and third party: a store with persons and
// the test channel, a callback receiver, and a recording message sender.
type env struct {
	backend   storetest.Backend
	store     store.Store
	channels  *channel.Registry
	masterKey []byte
	clock     *fakeClock
	receiver  *receiver
	sender    *recordingSender
	logs      *logBuffer
	persons   map[string]int64 // person id by ID number
	orders    int
}

// forEachBackend runs fn in a subtest per store backend, each with a fresh
// env.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, newEnv(t, b)) })
	}
}

func newEnv(t *testing.T, b storetest.Backend) *env {
	t.Helper()
	ctx := t.Context()
	clock := &fakeClock{now: t0}
	e := &env{
		backend:   b,
		store:     b.Store,
		masterKey: bytes.Repeat([]byte{7}, channel.MasterKeySize),
		clock:     clock,
		receiver:  &receiver{clock: clock},
		sender:    &recordingSender{},
		logs:      &logBuffer{},
		persons:   make(map[string]int64),
	}
	e.receiver.server = httptest.NewServer(e.receiver)
	t.Cleanup(e.receiver.server.Close)

	var err error
	if e.channels, err = channel.NewRegistry(b.Store, e.masterKey); err != nil {
		t.Fatal(err)
	}
	_, err = e.channels.Add(ctx, channel.Config{
		AppID: appID, OrgCode: orgCode, ServiceID: "svc-notify",
		Profile: protocol.ProfileFJS, SignType: protocol.SignSM3, EncType: protocol.EncSM4,
		KeyDerivation: protocol.DeriveSalt, SecurityMode: store.ModeKey,
		SM2PublicKey: channelPublicKey,
		AllowedHosts: []string{e.receiverHost()},
		Secrets:      channel.Secrets{AppSecret: appSecret, BizKey: bizKey, Salt: salt},
	}, t0)
	if err != nil {
		t.Fatalf("add channel: %v", err)
	}

	// The third party's side: an SDK client of the channel, on the same
	// clock, whose handler verifies each callback.
	client, err := sdk.New(e.receiver.server.URL, appID,
		sdk.WithCredentials(appSecret, bizKey, salt), sdk.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	e.receiver.handler = sdk.NewNotifyHandler(client, e.receiver.handle, sdk.WithNotifyRejectHook(func(_ *http.Request, err error) {
		t.Errorf("receiver rejected a callback: %v", err)
	}))

	records := []store.PersonRecord{
		person(1, idHead, "13800000001", 100000, "F1", "0"),
		person(2, idMember, "13800000002", 50000, "F1", "1"),
		person(3, idPoor, "13800000004", 100, "", ""),
	}
	if _, err := b.Store.ImportPersons(ctx, records, t0.Add(-time.Hour)); err != nil {
		t.Fatalf("import persons: %v", err)
	}
	for _, r := range records {
		p, err := b.Store.PersonByIDCard(ctx, r.IDCard)
		if err != nil {
			t.Fatal(err)
		}
		e.persons[r.IDCard] = p.ID
	}
	return e
}

func person(line int, idcard, phone string, balance int64, familyID, relation string) store.PersonRecord {
	return store.PersonRecord{
		Line: line, Name: "测试人员" + idcard[len(idcard)-2:], IDCard: idcard, CertType: "01", Phone: phone,
		Region: "350102", InsuType: "310", InsuStatus: "1", Balance: balance, HasAccount: true,
		FamilyID: familyID, Relation: relation,
	}
}

func (e *env) receiverHost() string {
	u, err := url.Parse(e.receiver.server.URL)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// worker returns a worker on e's store, clock, logs and sender, with a
// lease of a minute; change may adjust its config.
func (e *env) worker(t *testing.T, change ...func(*notifier.Config)) *notifier.Worker {
	t.Helper()
	config := notifier.Config{
		Store:    e.store,
		Channels: e.channels,
		Sender:   e.sender,
		Now:      e.clock.Now,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, nil)),
		Lease:    time.Minute,
	}
	for _, f := range change {
		f(&config)
	}
	w, err := notifier.New(config)
	if err != nil {
		t.Fatalf("notifier.New: %v", err)
	}
	return w
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// orderLine is one person's debit in an order.
type orderLine struct {
	idcard string
	amount int64 // fen
}

// settledOrder creates an order of the lines, paid by each person's own
// account (pay kind 1) or by the first person's (pay kind 2), authorized
// with a code of its own, and settles it at the clock's time.
func (e *env) settledOrder(t *testing.T, payKind string, lines ...orderLine) *store.Order {
	t.Helper()
	ctx := t.Context()
	e.orders++
	number := "HMB2026120400" + string(rune('0'+e.orders/10)) + string(rune('0'+e.orders%10))
	now := e.clock.Now()

	// An auth code pays once, so each order gets its own.
	authorization := &store.Authorization{
		CodeHash: hashOf("code " + number), AppID: appID, OrgCode: orgCode,
		ApplicantCertType: "01", ApplicantIDCard: lines[0].idcard, ExpiresAt: now.Add(90 * 24 * time.Hour),
	}
	for i, l := range lines {
		authorization.Persons = append(authorization.Persons, store.AuthorizedPerson{
			PersonID: e.persons[l.idcard], Name: "测试人员", IDCard: l.idcard, CertType: "01", Applicant: i == 0, Authorized: true,
		})
	}
	ticket := &store.AuthTicket{
		Hash: hashOf("auth ticket " + number), AppID: appID, OrgCode: orgCode, Request: []byte(`{}`),
		CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute),
	}
	if err := e.store.CreateAuthTicket(ctx, ticket); err != nil {
		t.Fatalf("CreateAuthTicket: %v", err)
	}
	if err := e.store.CompleteAuthorization(ctx, ticket.Hash, authorization, now); err != nil {
		t.Fatalf("CompleteAuthorization: %v", err)
	}

	order := &store.Order{
		AppID: appID, OrgCode: orgCode, HiPayNo: number, PayNo: "P" + number, SettleCode: "S" + number,
		RequestHash: hashOf("request " + number), Request: []byte(`{}`),
		AuthCodeHash: authorization.CodeHash, AuthCodeSealed: []byte("sealed auth code"),
		PayKind:     payKind,
		NotifyURL:   e.receiver.server.URL + "/notify?token=third-party-token",
		RedirectURL: e.receiver.server.URL + "/paid",
		FailURL:     e.receiver.server.URL + "/failed",
		TicketHash:  hashOf("pay ticket " + number), TicketExpiry: now.Add(15 * time.Minute),
		Status: store.OrderPending, CreatedAt: now,
	}
	for i, l := range lines {
		payer := e.persons[l.idcard]
		if payKind == store.PayKindMutual {
			payer = e.persons[lines[0].idcard]
		}
		order.Persons = append(order.Persons, store.OrderPerson{
			PersonID: e.persons[l.idcard], Name: "测试人员", IDCard: l.idcard, CertType: "01", Region: "350102",
			SubHisPayNo: number + "-" + string(rune('1'+i)), Amount: l.amount, PayerPersonID: payer,
		})
		order.Total += l.amount
	}
	created, err := e.store.CreateOrder(ctx, order)
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	settled, err := e.store.SettleOrder(ctx, created.ID, now)
	if err != nil {
		t.Fatalf("SettleOrder: %v", err)
	}
	return settled
}

// runOnce runs one round of w at the clock's time and returns how many
// rows it delivered.
func (e *env) runOnce(t *testing.T, w *notifier.Worker) int {
	t.Helper()
	delivered, err := w.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce at %v: %v", e.clock.Now().Sub(t0), err)
	}
	return delivered
}

// waitForClientToLeave returns once the client has closed the request's
// connection, or after 10 s. The server notices a closed connection only
// after the handler has read the body.
func waitForClientToLeave(r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func answerStatus(status int, times int) func(int, http.ResponseWriter, *http.Request) bool {
	return func(n int, w http.ResponseWriter, _ *http.Request) bool {
		if n > times {
			return false
		}
		http.Error(w, "temporarily unavailable", status)
		return true
	}
}

// offsets returns each time's distance from t0.
func offsets(times []time.Time) []time.Duration {
	out := make([]time.Duration, len(times))
	for i, at := range times {
		out[i] = at.Sub(t0)
	}
	return out
}

func sameDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCallbackRetriedOnLadderUntilAcknowledged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		order := e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})
		e.receiver.setAnswer(answerStatus(http.StatusInternalServerError, 2))
		w := e.worker(t)

		// The receiver fails twice, so attempts come at 0, 15 s and 30 s;
		// each round just before a retry is due finds nothing.
		steps := []struct {
			at   time.Duration
			hits int
		}{
			{0, 1}, {14 * time.Second, 1}, {15 * time.Second, 2}, {29 * time.Second, 2}, {30 * time.Second, 3}, {24 * time.Hour, 3},
		}
		for _, step := range steps {
			e.clock.Set(t0.Add(step.at))
			e.runOnce(t, w)
			if got := len(e.receiver.hitTimes()); got != step.hits {
				t.Fatalf("after the round at %v the receiver had %d requests, want %d", step.at, got, step.hits)
			}
		}

		want := []time.Duration{0, 15 * time.Second, 30 * time.Second}
		if got := offsets(e.receiver.hitTimes()); !sameDurations(got, want) {
			t.Errorf("callback attempts at %v, want %v", got, want)
		}
		notices := e.receiver.handled()
		if len(notices) != 1 {
			t.Fatalf("receiver handled %d notices, want 1", len(notices))
		}
		wantNotice := api.PaymentNotice{
			MedfeeSumamt: "588.00", AcctPay: "588.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
			PayResult: "1", RedirectURL: order.RedirectURL, HiPayNo: order.HiPayNo,
		}
		if notices[0] != wantNotice {
			t.Errorf("notice = %+v, want %+v", notices[0], wantNotice)
		}
	})
}

func TestCallbackNonZeroCodeRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})
		// HTTP 200 alone is no acknowledgement: first a non-zero code, then
		// a body that is not JSON.
		e.receiver.setAnswer(func(n int, w http.ResponseWriter, _ *http.Request) bool {
			switch n {
			case 1:
				io.WriteString(w, `{"code":10006,"message":"签名校验失败"}`)
			case 2:
				io.WriteString(w, "OK")
			default:
				return false
			}
			return true
		})
		w := e.worker(t)

		for _, at := range []time.Duration{0, 15 * time.Second, 30 * time.Second, time.Hour} {
			e.clock.Set(t0.Add(at))
			e.runOnce(t, w)
		}

		want := []time.Duration{0, 15 * time.Second, 30 * time.Second}
		if got := offsets(e.receiver.hitTimes()); !sameDurations(got, want) {
			t.Errorf("callback attempts at %v, want %v", got, want)
		}
		if got := len(e.receiver.handled()); got != 1 {
			t.Errorf("receiver handled %d notices, want 1", got)
		}
	})
}

func TestCallbackGivesUpAfterLastStep(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		order := e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})
		e.receiver.setAnswer(answerStatus(http.StatusServiceUnavailable, 1000))
		w := e.worker(t)

		at := t0
		wantTimes := []time.Duration{0}
		for _, delay := range ladder {
			e.clock.Set(at)
			e.runOnce(t, w)
			at = at.Add(delay)
			wantTimes = append(wantTimes, at.Sub(t0))
		}
		e.clock.Set(at)
		e.runOnce(t, w)
		e.clock.Set(at.Add(7 * 24 * time.Hour))
		e.runOnce(t, w)

		if got := offsets(e.receiver.hitTimes()); !sameDurations(got, wantTimes) {
			t.Errorf("callback attempts at %v, want %v: one first attempt and one per step of the ladder", got, wantTimes)
		}
		gaveUp := false
		for _, record := range e.logs.records(t, "ERROR") {
			if strings.Contains(record["msg"].(string), "giving up") {
				gaveUp = true
				if record["pay_no"] != order.PayNo || record["appid"] != appID {
					t.Errorf("give-up log has pay_no %v and appid %v, want %s and %s", record["pay_no"], record["appid"], order.PayNo, appID)
				}
			}
		}
		if !gaveUp {
			t.Errorf("no error log of giving up; logs:\n%s", e.logs.String())
		}
	})
}

func TestCallbackTimeoutIsFailedAttempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})
		e.receiver.setAnswer(func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n > 1 {
				return false
			}
			waitForClientToLeave(r)
			return true
		})
		w := e.worker(t, func(c *notifier.Config) { c.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond} })

		started := time.Now()
		e.runOnce(t, w)
		if elapsed := time.Since(started); elapsed > 5*time.Second {
			t.Errorf("round took %v, want the client's timeout of 200ms", elapsed)
		}
		if got := len(e.receiver.handled()); got != 0 {
			t.Fatalf("receiver handled %d notices after the timeout, want 0", got)
		}

		e.clock.Set(t0.Add(15 * time.Second))
		e.runOnce(t, w)

		if got := offsets(e.receiver.hitTimes()); !sameDurations(got, []time.Duration{0, 15 * time.Second}) {
			t.Errorf("callback attempts at %v, want [0s 15s]", got)
		}
		if got := len(e.receiver.handled()); got != 1 {
			t.Errorf("receiver handled %d notices, want 1", got)
		}
	})
}

func TestCallbackRedeliveredAfterWorkerCrash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})
		arrived := make(chan struct{})
		e.receiver.setAnswer(func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n > 1 {
				return false
			}
			close(arrived)
			waitForClientToLeave(r)
			return true
		})

		// The first worker dies while its callback is in flight.
		ctx, crash := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := e.worker(t).RunOnce(ctx)
			done <- err
		}()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the first worker's callback never arrived")
		}
		crash()
		if err := <-done; err != nil {
			t.Fatalf("RunOnce of the crashed worker: %v", err)
		}

		// A new worker, as after a restart, with a store of its own.
		second := e.worker(t, func(c *notifier.Config) { c.Store = e.backend.Open(t) })
		e.clock.Set(t0.Add(59 * time.Second))
		e.runOnce(t, second)
		if got := len(e.receiver.hitTimes()); got != 1 {
			t.Fatalf("callback sent again %d times while the lease held, want 0", got-1)
		}

		e.clock.Set(t0.Add(time.Minute))
		e.runOnce(t, second)
		e.clock.Set(t0.Add(24 * time.Hour))
		e.runOnce(t, second)

		if got := offsets(e.receiver.hitTimes()); !sameDurations(got, []time.Duration{0, time.Minute}) {
			t.Errorf("callback attempts at %v, want [0s 1m0s]: again once the lease ran out", got)
		}
		if got := len(e.receiver.handled()); got != 1 {
			t.Errorf("receiver handled %d notices, want 1", got)
		}
	})
}

func TestCallbackNotSentToHostOffAllowList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		order := e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})

		// The operator takes the receiver's host off the allow-list after
		// the order was accepted.
		row, err := e.store.Channel(t.Context(), appID)
		if err != nil {
			t.Fatal(err)
		}
		previous := row.UpdatedAt
		row.AllowedHosts = []string{"hmb.example.cn"}
		row.UpdatedAt = t0.Add(time.Second)
		if err := e.store.UpdateChannel(t.Context(), row, previous); err != nil {
			t.Fatal(err)
		}
		w := e.worker(t)

		for _, at := range []time.Duration{0, time.Minute, 24 * time.Hour} {
			e.clock.Set(t0.Add(at))
			e.runOnce(t, w)
		}

		if got := len(e.receiver.hitTimes()); got != 0 {
			t.Errorf("receiver got %d requests, want none", got)
		}
		var logged bool
		for _, record := range e.logs.records(t, "ERROR") {
			if strings.Contains(record["error"].(string), "allow-list") && record["pay_no"] == order.PayNo && record["appid"] == appID {
				logged = true
			}
		}
		if !logged {
			t.Errorf("no error log naming the allow-list, pay_no %s and appid %s; logs:\n%s", order.PayNo, appID, e.logs.String())
		}
		if got := len(e.sender.sent()); got != 1 {
			t.Errorf("%d account messages sent, want 1: the allow-list concerns callbacks only", got)
		}
	})
}

func TestCallbackOfFailedPayment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		order := e.settledOrder(t, store.PayKindPersonal, orderLine{idPoor, 58800})
		if order.Status != store.OrderFailed {
			t.Fatalf("order is %s, want failed: the person's balance is 1.00", order.Status)
		}

		delivered := e.runOnce(t, e.worker(t))

		if delivered != 1 {
			t.Errorf("delivered %d rows, want 1: the callback, and no account message", delivered)
		}
		notices := e.receiver.handled()
		if len(notices) != 1 {
			t.Fatalf("receiver handled %d notices, want 1", len(notices))
		}
		want := api.PaymentNotice{
			MedfeeSumamt: "588.00", AcctPay: "0.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
			PayResult: "0", RedirectURL: order.RedirectURL, HiPayNo: order.HiPayNo,
			FailMsg: "个账余额不足", FailCode: "20025",
		}
		if notices[0] != want {
			t.Errorf("notice = %+v, want %+v", notices[0], want)
		}
		if got := len(e.sender.sent()); got != 0 {
			t.Errorf("%d account messages sent for a failed payment, want 0", got)
		}
	})
}

func TestAccountMessagesOfPaymentAndRefund(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		order := e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800}, orderLine{idMember, 30000})
		if order.Status != store.OrderPaid {
			t.Fatalf("order is %s, want paid", order.Status)
		}
		w := e.worker(t)
		e.runOnce(t, w)

		byPerson := make(map[int64]notifier.Message)
		for _, m := range e.sender.sent() {
			byPerson[m.PersonID] = m
		}
		if len(byPerson) != 2 || len(e.sender.sent()) != 2 {
			t.Fatalf("sent %+v, want one message to each of the two persons", e.sender.sent())
		}
		checkMessage(t, byPerson[e.persons[idHead]], "13800000001", -58800,
			"【福建医保】您的个人账户于 2026-12-04 10:15 支出 588.00 元（惠闽保保费，订单 "+order.PayNo+"）。")
		checkMessage(t, byPerson[e.persons[idMember]], "13800000002", -30000,
			"【福建医保】您的个人账户于 2026-12-04 10:15 支出 300.00 元（惠闽保保费，订单 "+order.PayNo+"）。")

		// A refund of part of the member's payment, a day later.
		e.clock.Set(t0.Add(24 * time.Hour))
		var memberLine store.OrderPerson
		for _, p := range order.Persons {
			if p.PersonID == e.persons[idMember] {
				memberLine = p
			}
		}
		refund, err := e.store.CreateRefund(t.Context(), &store.Refund{
			OrderID: order.ID, AppID: appID, OrgCode: orgCode, HiRefundNo: "HMBR0001", RefundNo: "R2026120500000001",
			RequestHash: hashOf("refund"), Total: 10050, CreatedAt: e.clock.Now(),
			Persons: []store.RefundPerson{{OrderPersonID: memberLine.ID, Amount: 10050, SetID: "SR0001"}},
		})
		if err != nil {
			t.Fatalf("CreateRefund: %v", err)
		}
		e.runOnce(t, w)

		sent := e.sender.sent()
		if len(sent) != 3 {
			t.Fatalf("sent %d messages after the refund, want 3", len(sent))
		}
		checkMessage(t, sent[2], "13800000002", 10050,
			"【福建医保】您的个人账户于 2026-12-05 10:15 收入 100.50 元（惠闽保保费退款，订单 "+order.PayNo+"，退款单 "+refund.RefundNo+"）。")
		if sent[2].PersonID != e.persons[idMember] {
			t.Errorf("refund message went to person %d, want the member %d", sent[2].PersonID, e.persons[idMember])
		}
		if got := len(e.receiver.hitTimes()); got != 1 {
			t.Errorf("receiver got %d callbacks, want 1: a refund sends none", got)
		}
	})
}

func TestAccountMessageOfMutualAid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		order := e.settledOrder(t, store.PayKindMutual, orderLine{idHead, 20000}, orderLine{idMember, 30000})
		if order.Status != store.OrderPaid {
			t.Fatalf("order is %s, want paid", order.Status)
		}
		e.runOnce(t, e.worker(t))

		sent := e.sender.sent()
		if len(sent) != 1 {
			t.Fatalf("sent %+v, want one message to the household head", sent)
		}
		if sent[0].PersonID != e.persons[idHead] {
			t.Errorf("message went to person %d, want the head %d", sent[0].PersonID, e.persons[idHead])
		}
		checkMessage(t, sent[0], "13800000001", -50000,
			"【福建医保】您的个人账户于 2026-12-04 10:15 支出 500.00 元（惠闽保保费（家庭共济），订单 "+order.PayNo+"）。")
		notices := e.receiver.handled()
		if len(notices) != 1 || notices[0].AcctMulaidPay != "500.00" || notices[0].AcctPay != "0.00" {
			t.Errorf("notices = %+v, want one with acct_mulaid_pay 500.00 and acct_pay 0.00", notices)
		}
	})
}

func checkMessage(t *testing.T, m notifier.Message, phone string, amount int64, text string) {
	t.Helper()
	if m.Phone != phone {
		t.Errorf("message phone = %q, want %q", m.Phone, phone)
	}
	if m.Amount != amount {
		t.Errorf("message amount = %d fen, want %d", m.Amount, amount)
	}
	if m.Text != text {
		t.Errorf("message text = %s\nwant           %s", m.Text, text)
	}
	if m.ID == 0 {
		t.Errorf("message has no outbox id")
	}
}

func TestDefaultSenderLogsMasked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})
		w := e.worker(t, func(c *notifier.Config) { c.Sender = nil })

		e.runOnce(t, w)

		logs := e.logs.String()
		for _, secret := range []string{idHead, "13800000001", "测试人员", appSecret, bizKey, salt, "third-party-token"} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %q:\n%s", secret, logs)
			}
		}
		var found bool
		for _, record := range e.logs.records(t, "INFO") {
			if record["msg"] == "account message" {
				found = true
				if record["phone"] != "138****0001" || record["amount"] != "-588.00" {
					t.Errorf("account message log has phone %v and amount %v, want 138****0001 and -588.00", record["phone"], record["amount"])
				}
			}
		}
		if !found {
			t.Errorf("no account message log; logs:\n%s", logs)
		}
	})
}

func TestRunDeliversUntilCanceled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.settledOrder(t, store.PayKindPersonal, orderLine{idHead, 58800})
		w := e.worker(t, func(c *notifier.Config) { c.PollInterval = 10 * time.Millisecond })

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for len(e.receiver.handled()) == 0 || len(e.sender.sent()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("Run delivered nothing in 10s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()

		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
		if got := len(e.receiver.hitTimes()); got != 1 {
			t.Errorf("receiver got %d callbacks, want 1", got)
		}
	})
}

func TestNewRequiresStoreAndChannels(t *testing.T) {
	if _, err := notifier.New(notifier.Config{}); err == nil {
		t.Errorf("New without a store: no error")
	}
}
