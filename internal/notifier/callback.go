package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/money"
	"chsgate/internal/store"
	"chsgate/internal/textcut"
	"chsgate/protocol"
)

// maxAckBytes is how much of the receiver's response the worker reads. An
// acknowledgement is {"code":0}, so a longer response is cut off here.
const maxAckBytes = 64 << 10

// deliverCallback posts the payment result of the row's order to its
// notify URL, sealed with the channel's keys as a CI00.02.00.NOTIFY
// request. It succeeds only on an HTTP 200 response whose JSON has code 0.
func (w *Worker) deliverCallback(ctx context.Context, item *store.OutboxItem, d *delivery) error {
	o, err := w.loadOrder(ctx, item, d)
	if err != nil {
		return err
	}
	if o.NotifyURL == "" {
		return giveUp(errors.New("order has no notify URL"))
	}
	notice, err := paymentNotice(o)
	if err != nil {
		return giveUp(err)
	}

	ch, err := w.channels.Lookup(ctx, o.AppID)
	if errors.Is(err, store.ErrNotFound) {
		return giveUp(fmt.Errorf("channel %s: %w", o.AppID, err))
	}
	if err != nil {
		return fmt.Errorf("load channel %s: %w", o.AppID, err)
	}
	if ch.Disabled {
		// Retried rather than given up, so a channel re-enabled within the
		// ladder still gets its callback.
		return fmt.Errorf("channel %s is disabled", o.AppID)
	}
	// The allow-list is checked again here, not only when the order was
	// created, because the operator may have removed the host since.
	target, err := notifyTarget(ch, o.NotifyURL)
	if target != nil {
		d.host = target.Host
	}
	if err != nil {
		return giveUp(err)
	}

	body, err := sealNotice(ch, notice, w.now())
	if err != nil {
		return giveUp(fmt.Errorf("seal the callback: %w", err))
	}
	return w.post(ctx, target, body)
}

// paymentNotice builds the callback's business fields from an ended order.
// A paid order reports its total as paid from the account of its pay kind.
// A failed order debited nothing, so it reports "0.00" from each account,
// and medfee_sumamt still carries the total asked for, so the receiver can
// match the notice to its order. No cash fallback exists, so psn_cash_pay
// is always "0.00".
func paymentNotice(o *store.Order) (*api.PaymentNotice, error) {
	zero := money.FormatFen(0)
	n := &api.PaymentNotice{
		MedfeeSumamt:  money.FormatFen(o.Total),
		AcctPay:       zero,
		AcctMulaidPay: zero,
		PsnCashPay:    zero,
		RedirectURL:   o.RedirectURL,
		HiPayNo:       o.HiPayNo,
	}
	switch o.Status {
	case store.OrderPaid:
		n.PayResult = "1"
		switch o.PayKind {
		case store.PayKindPersonal:
			n.AcctPay = money.FormatFen(o.Total)
		case store.PayKindMutual:
			n.AcctMulaidPay = money.FormatFen(o.Total)
		default:
			return nil, fmt.Errorf("order %s has unknown pay kind %q", o.PayNo, o.PayKind)
		}
	case store.OrderFailed:
		n.PayResult = "0"
		code := o.FailCode
		if code == 0 {
			// A failure must not carry code 0, which means success.
			code = protocol.CodePaymentFailed
		}
		n.FailCode = strconv.Itoa(code)
		n.FailMsg = o.FailMsg
		if n.FailMsg == "" {
			n.FailMsg = protocol.FormatMessage(code)
		}
	default:
		return nil, fmt.Errorf("order %s is %s: only a paid or failed order has a result to send", o.PayNo, o.Status)
	}
	return n, nil
}

// notifyTarget parses a notify URL and checks its host, with the port its
// scheme implies, against the channel's allow-list, as the gateway checks it
// when the order is created. It returns the parsed URL even when the host is
// not allowed, so the caller can log the host.
func notifyTarget(ch *channel.Channel, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errors.New("notify URL is not an absolute http or https URL without credentials")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !ch.AllowsURL(u.Hostname(), port) {
		return u, fmt.Errorf("notify host %s is not on the allow-list of channel %s", net.JoinHostPort(u.Hostname(), port), ch.AppID)
	}
	return u, nil
}

// sealNotice seals notice as the platform's side of the channel: signed
// and encrypted with the channel's keys in the channel's profile, stamped
// now, with no appsecret, since the platform is not authenticating to the
// third party.
func sealNotice(ch *channel.Channel, notice *api.PaymentNotice, now time.Time) ([]byte, error) {
	var payload bytes.Buffer
	encoder := json.NewEncoder(&payload)
	// The receiver signs the characters as sent, and URLs carry '&'.
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(notice); err != nil {
		return nil, err
	}
	return ch.Profile.SealRequest(ch.Keys, &protocol.Request{
		AppID:     ch.AppID,
		FunID:     api.FunNotify,
		Timestamp: ch.Profile.FormatTimestamp(now),
		Payload:   bytes.TrimSuffix(payload.Bytes(), []byte("\n")),
	})
}

// post sends body to target and checks the acknowledgement.
func (w *Worker) post(ctx context.Context, target *url.URL, body []byte) error {
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return giveUp(fmt.Errorf("build the callback request: %w", err))
	}
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Accept", "application/json")

	response, err := w.http.Do(request)
	if err != nil {
		// *url.Error repeats the whole URL, whose query may hold the third
		// party's token; the host is logged separately.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			if urlErr.Timeout() {
				return fmt.Errorf("callback timed out: %w", urlErr.Err)
			}
			err = urlErr.Err
		}
		return fmt.Errorf("POST the callback: %w", err)
	}
	defer response.Body.Close()

	ack, err := io.ReadAll(io.LimitReader(response.Body, maxAckBytes))
	if err != nil {
		return fmt.Errorf("read the receiver's response: %w", err)
	}
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("receiver returned HTTP status %d, expected 200", response.StatusCode)
	}
	return checkAck(ack)
}

// checkAck returns nil for a response that is a JSON object with "code" 0,
// as a number or a string, and an error naming the problem otherwise.
func checkAck(body []byte) error {
	var ack struct {
		Code json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(body, &ack); err != nil {
		return fmt.Errorf("receiver's response of %d bytes is not a JSON object", len(body))
	}
	code := string(bytes.TrimSpace(ack.Code))
	if code == "0" || code == `"0"` {
		return nil
	}
	if code == "" || code == "null" {
		return errors.New("receiver's response has no code, expected code 0")
	}
	return fmt.Errorf("receiver returned code %s, expected 0", textcut.Prefix(code, 40))
}
