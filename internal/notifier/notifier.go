// Package notifier delivers the rows of the payment outbox: the
// payment-result callback to the third party's notify_url, and the
// account-movement messages to insured persons.
//
// All delivery state lives in the outbox. A Worker claims due rows with a
// lease, delivers them, and records each result in the store, so a restart
// loses nothing. A row claimed by a worker that died comes back once its
// lease has run out, and several workers, in one process or several, can
// share one database.
//
// Delivery is at least once. A row is delivered again when the worker dies,
// or its lease runs out, after the receiver accepted the row but before the
// store recorded it. Each retry of a callback carries a new timestamp and
// signature, so the receiver's replay check does not catch it. Receivers
// must therefore be idempotent: a callback by hi_pay_no, an account message
// by Message.ID.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/internal/textcut"
)

// retryDelays is how long a row waits after its nth failed attempt:
// attempt n is followed by retryDelays[n-1]. After the last step the worker
// gives up, so a row gets 1+len(retryDelays) attempts over 24 hours and 4
// minutes.
var retryDelays = [...]time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second,
	3 * time.Minute, 10 * time.Minute, 20 * time.Minute,
	30 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	60 * time.Minute, 3 * time.Hour, 3 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// Defaults of Config.
const (
	// DefaultHTTPTimeout is how long a callback receiver has to respond.
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultPollInterval = 5 * time.Second
	// DefaultLease leaves a delivery, which gets half the lease, six times
	// DefaultHTTPTimeout.
	DefaultLease     = 2 * time.Minute
	DefaultBatchSize = 16
)

// recordTimeout bounds the store call that records a result once the
// worker is stopping.
const recordTimeout = 5 * time.Second

// maxLastError bounds the error text stored with a failed attempt.
const maxLastError = 500

// Config is the settings of a Worker. Store and Channels are required, and
// every other field has a default.
type Config struct {
	Store    store.Store
	Channels *channel.Registry
	// Sender delivers account messages; LogSender by default. The worker
	// calls it from several goroutines at once.
	Sender MessageSender
	// HTTPClient posts callbacks. The default times out after
	// DefaultHTTPTimeout. Redirects are never followed, whatever the
	// client's CheckRedirect, because a redirect could lead past the
	// channel's allow-list. A 3xx response is a failed attempt.
	HTTPClient *http.Client
	// Now is the clock; time.Now by default.
	Now    func() time.Time
	Logger *slog.Logger // slog.Default() by default
	// PollInterval is how long Run waits after a batch that did not fill
	// BatchSize; DefaultPollInterval by default.
	PollInterval time.Duration
	// Lease is how long a claimed row stays with this worker before another
	// may claim it; DefaultLease by default. Each delivery is cut off after
	// half the lease, so it ends, and its result is recorded, while the
	// row is still leased.
	Lease time.Duration
	// BatchSize is how many rows one round claims and delivers at once;
	// DefaultBatchSize by default.
	BatchSize int
}

// Worker delivers outbox rows. It is safe for concurrent use, and several
// workers may share one store.
type Worker struct {
	store    store.Store
	channels *channel.Registry
	sender   MessageSender
	http     *http.Client
	now      func() time.Time
	logger   *slog.Logger
	poll     time.Duration
	lease    time.Duration
	batch    int
}

// New returns a worker with c's settings, or an error naming the first
// missing or invalid one.
func New(c Config) (*Worker, error) {
	if c.Store == nil {
		return nil, errors.New("notifier: Store is required")
	}
	if c.Channels == nil {
		return nil, errors.New("notifier: Channels is required")
	}
	if c.PollInterval < 0 || c.Lease < 0 || c.BatchSize < 0 {
		return nil, fmt.Errorf("notifier: poll interval %v, lease %v and batch size %d must not be negative", c.PollInterval, c.Lease, c.BatchSize)
	}

	w := &Worker{
		store:    c.Store,
		channels: c.Channels,
		sender:   c.Sender,
		now:      c.Now,
		logger:   c.Logger,
		poll:     c.PollInterval,
		lease:    c.Lease,
		batch:    c.BatchSize,
	}

	if w.logger == nil {
		w.logger = slog.Default()
	}
	if w.sender == nil {
		w.sender = LogSender{Logger: w.logger}
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.poll == 0 {
		w.poll = DefaultPollInterval
	}
	if w.lease == 0 {
		w.lease = DefaultLease
	}
	if w.batch == 0 {
		w.batch = DefaultBatchSize
	}
	w.http = withoutRedirects(c.HTTPClient)
	return w, nil
}

// withoutRedirects returns a copy of client, or a new client with
// DefaultHTTPTimeout when client is nil, that returns 3xx responses instead
// of following them.
func withoutRedirects(client *http.Client) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Timeout = DefaultHTTPTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Run delivers due rows until ctx ends, then returns ctx's error. It claims
// the next batch at once after a full batch, because more rows may be due,
// and otherwise waits PollInterval. Errors of a round are logged, and the
// next round tries again. Deliveries still running when ctx ends are
// canceled, and their rows come back after their lease.
func (w *Worker) Run(ctx context.Context) error {
	w.logger.InfoContext(ctx, "notifier started", "poll_interval", w.poll, "lease", w.lease, "batch_size", w.batch)
	defer w.logger.Info("notifier stopped")

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		claimed, _, err := w.round(ctx)
		if err != nil && ctx.Err() == nil {
			w.logger.ErrorContext(ctx, "notifier round failed; trying again after the poll interval", "error", err, "poll_interval", w.poll)
		}
		wait := w.poll
		if err == nil && claimed == w.batch {
			wait = 0
		}
		timer.Reset(wait)
	}
}

// RunOnce claims the rows due now, up to BatchSize, delivers them at once
// and records each result. It returns how many were delivered. Its error
// reports a failure to claim rows or to record a result; failed deliveries
// are recorded and logged, not returned.
func (w *Worker) RunOnce(ctx context.Context) (delivered int, err error) {
	_, delivered, err = w.round(ctx)
	return delivered, err
}

func (w *Worker) round(ctx context.Context) (claimed, delivered int, err error) {
	items, err := w.store.ClaimOutbox(ctx, w.now(), w.batch, w.lease)
	if err != nil {
		return 0, 0, fmt.Errorf("claim outbox rows: %w", err)
	}

	var (
		wg        sync.WaitGroup
		succeeded atomic.Int64
		mu        sync.Mutex
		errs      []error
	)
	for _, item := range items {
		wg.Go(func() {
			ok, err := w.process(ctx, item)
			if ok {
				succeeded.Add(1)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(items), int(succeeded.Load()), errors.Join(errs...)
}

// delivery is the log context that one attempt gathers about its row.
type delivery struct {
	payNo string
	appID string
	host  string // the notify URL's host, never its path or query
}

func (d *delivery) logAttrs(item *store.OutboxItem, attempt int) []any {
	attrs := []any{"outbox_id", item.ID, "kind", string(item.Kind), "order_id", item.OrderID, "attempt", attempt}
	if d.payNo != "" {
		attrs = append(attrs, "pay_no", d.payNo)
	}
	if d.appID != "" {
		attrs = append(attrs, "appid", d.appID)
	}
	if d.host != "" {
		attrs = append(attrs, "host", d.host)
	}
	if item.Kind == store.OutboxAccountMessage {
		attrs = append(attrs, "person_id", item.PersonID)
	}
	if item.RefundID != 0 {
		attrs = append(attrs, "refund_id", item.RefundID)
	}
	return attrs
}

// process delivers one row and records the result. It reports whether the
// row was delivered, and returns an error only when recording failed.
func (w *Worker) process(ctx context.Context, item *store.OutboxItem) (bool, error) {
	// ClaimOutbox counts every lease as an attempt, this one included, so
	// a worker that died holding the row has used up a step of the ladder.
	// The floor of 1 keeps the ladder's index valid whatever the row holds.
	attempt := max(item.Attempts, 1)
	d := &delivery{}

	deliverCtx, cancel := context.WithTimeout(ctx, w.lease/2)
	outcome := w.deliver(deliverCtx, item, d)
	cancel()
	attrs := d.logAttrs(item, attempt)

	if outcome == nil {
		// A receiver that accepted the row must not get it again only
		// because the worker is stopping, so the success is recorded even
		// then.
		recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if err := w.store.FinishOutbox(recordCtx, item.ID, w.now()); err != nil {
			w.logger.ErrorContext(ctx, "outbox row delivered, but recording it failed; it will be delivered again after its lease", append(attrs, "error", err)...)
			return true, fmt.Errorf("finish outbox row %d: %w", item.ID, err)
		}
		w.logger.InfoContext(ctx, "outbox row delivered", attrs...)
		return true, nil
	}
	if ctx.Err() != nil {
		// The failure may come from the worker's own cancellation, which is
		// no fault of the receiver, so it is not recorded. The row comes
		// back after its lease.
		w.logger.InfoContext(context.WithoutCancel(ctx), "delivery interrupted by shutdown; the row returns after its lease", append(attrs, "error", outcome)...)
		return false, nil
	}

	var next time.Time
	var final *finalError
	switch {
	case errors.As(outcome, &final):
		w.logger.ErrorContext(ctx, "outbox row cannot be delivered; giving up", append(attrs, "error", outcome)...)
	case attempt > len(retryDelays):
		w.logger.ErrorContext(ctx, "outbox row failed its last attempt; giving up", append(attrs, "error", outcome)...)
	default:
		next = w.now().Add(retryDelays[attempt-1])
		w.logger.WarnContext(ctx, "outbox row delivery failed; retrying", append(attrs, "error", outcome, "next_attempt", next)...)
	}
	if err := w.store.RetryOutbox(ctx, item.ID, next, textcut.Prefix(outcome.Error(), maxLastError)); err != nil {
		w.logger.ErrorContext(ctx, "recording a failed delivery failed; the row returns after its lease", append(attrs, "error", err)...)
		return false, fmt.Errorf("record failed attempt of outbox row %d: %w", item.ID, err)
	}
	return false, nil
}

// deliver makes one attempt at item. A *finalError means no later attempt
// can succeed.
func (w *Worker) deliver(ctx context.Context, item *store.OutboxItem, d *delivery) error {
	switch item.Kind {
	case store.OutboxPaymentCallback:
		return w.deliverCallback(ctx, item, d)
	case store.OutboxAccountMessage:
		return w.deliverAccountMessage(ctx, item, d)
	}
	return giveUp(fmt.Errorf("unknown outbox kind %q", item.Kind))
}

// finalError is a delivery failure that retrying cannot fix, such as a
// notify host taken off the allow-list, so the worker gives up at once.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

func giveUp(err error) error { return &finalError{err: err} }

// loadOrder returns the row's order. A missing order is final: the outbox
// row and its order are written in one transaction.
func (w *Worker) loadOrder(ctx context.Context, item *store.OutboxItem, d *delivery) (*store.Order, error) {
	o, err := w.store.Order(ctx, store.OrderKey{ID: item.OrderID})
	if errors.Is(err, store.ErrNotFound) {
		return nil, giveUp(fmt.Errorf("order %d: %w", item.OrderID, err))
	}
	if err != nil {
		return nil, fmt.Errorf("load order %d: %w", item.OrderID, err)
	}
	d.payNo, d.appID = o.PayNo, o.AppID
	return o, nil
}
