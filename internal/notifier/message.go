package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"chsgate/internal/money"
	"chsgate/internal/registry"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// Message is an account-movement message to an insured person.
type Message struct {
	// ID is the outbox row's id. It is the same in every attempt, so a
	// sender can drop a message it has already sent.
	ID       int64
	PersonID int64
	Phone    string // "" when the registry has no phone number
	// Amount is the movement in fen: negative for a debit, positive for a
	// refund.
	Amount int64
	// Text is the message in Chinese. It contains no name or ID number,
	// but it does show the person's payment, so LogSender leaves it out.
	Text string
}

// MessageSender sends account messages, for example by SMS. The worker
// calls Send from several goroutines at once, and again with the same
// Message.ID after a failure, so a sender must be safe for concurrent use
// and should drop duplicates. An error wrapping ErrUndeliverable makes the
// worker give up on the message at once; any other error is retried.
type MessageSender interface {
	Send(ctx context.Context, m Message) error
}

// ErrUndeliverable marks a message that no retry can deliver, such as one
// to a person without a phone number.
var ErrUndeliverable = errors.New("message cannot be delivered")

// LogSender is the MessageSender used when no other is configured: it
// writes one log line per message, with the phone number masked and
// without the text, and sends nothing.
type LogSender struct {
	Logger *slog.Logger // slog.Default() when nil
}

// Send logs m.
func (s LogSender) Send(ctx context.Context, m Message) error {
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "account message",
		"message_id", m.ID,
		"person_id", m.PersonID,
		"phone", registry.MaskPhone(m.Phone),
		"amount", money.FormatFen(m.Amount))
	return nil
}

// deliverAccountMessage renders the row's message for its person and
// passes it to the sender.
func (w *Worker) deliverAccountMessage(ctx context.Context, item *store.OutboxItem, d *delivery) error {
	o, err := w.loadOrder(ctx, item, d)
	if err != nil {
		return err
	}
	person, err := w.store.PersonByID(ctx, item.PersonID)
	if errors.Is(err, store.ErrNotFound) {
		return giveUp(fmt.Errorf("person %d: %w", item.PersonID, err))
	}
	if err != nil {
		return fmt.Errorf("load person %d: %w", item.PersonID, err)
	}
	text, err := accountMessageText(o, item)
	if err != nil {
		return giveUp(err)
	}

	err = w.sender.Send(ctx, Message{ID: item.ID, PersonID: person.ID, Phone: person.Phone, Amount: item.Amount, Text: text})
	if errors.Is(err, ErrUndeliverable) {
		return giveUp(err)
	}
	return err
}

// productName is the insurance product named in account messages.
const productName = "惠闽保"

// accountMessageText renders the message of an account movement, such as
// 【福建医保】您的个人账户于 2026-12-04 10:15 支出 588.00 元（惠闽保保费，订单 P2026…）。
// The time is when the movement was posted, in Asia/Shanghai.
func accountMessageText(o *store.Order, item *store.OutboxItem) (string, error) {
	if item.Amount == 0 {
		return "", fmt.Errorf("account message of order %s has amount 0", o.PayNo)
	}
	direction, magnitude := "收入", item.Amount
	if item.Amount < 0 {
		direction, magnitude = "支出", -item.Amount
	}

	at := o.PaidAt
	purpose := productName + "保费"
	if o.PayKind == store.PayKindMutual {
		purpose += "（家庭共济）"
	}
	reference := "订单 " + o.PayNo
	if item.RefundID != 0 {
		refund := findRefund(o, item.RefundID)
		if refund == nil {
			return "", fmt.Errorf("order %s has no refund %d", o.PayNo, item.RefundID)
		}
		at = refund.CreatedAt
		purpose = productName + "保费退款"
		reference += "，退款单 " + refund.RefundNo
	}
	if at.IsZero() {
		at = item.CreatedAt
	}

	return fmt.Sprintf("【福建医保】您的个人账户于 %s %s %s 元（%s，%s）。",
		at.In(protocol.Shanghai()).Format("2006-01-02 15:04"), direction, money.FormatFen(magnitude), purpose, reference), nil
}

func findRefund(o *store.Order, id int64) *store.Refund {
	for i := range o.Refunds {
		if o.Refunds[i].ID == id {
			return &o.Refunds[i]
		}
	}
	return nil
}
