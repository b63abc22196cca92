package notifier

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// The published retry ladder of payment callbacks, written out again so a
// change to retryDelays fails here.
var publishedLadder = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 60 * time.Minute,
	3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

func TestRetryDelaysMatchLadder(t *testing.T) {
	if len(retryDelays) != len(publishedLadder) {
		t.Fatalf("ladder has %d steps, want %d", len(retryDelays), len(publishedLadder))
	}
	for i, want := range publishedLadder {
		if retryDelays[i] != want {
			t.Errorf("step %d = %v, want %v", i+1, retryDelays[i], want)
		}
	}
}

func TestCheckAck(t *testing.T) {
	accepted := []string{`{"code":0}`, `{"code":"0"}`, `{"code": 0, "message":"ok"}`, " {\"code\":0}\n"}
	for _, body := range accepted {
		if err := checkAck([]byte(body)); err != nil {
			t.Errorf("checkAck(%s) = %v, want nil", body, err)
		}
	}
	rejected := []string{`{"code":1}`, `{"code":"1"}`, `{}`, `{"code":null}`, `ok`, ``, `[0]`, `{"code":false}`, `{"code":10006}`}
	for _, body := range rejected {
		if err := checkAck([]byte(body)); err == nil {
			t.Errorf("checkAck(%q) = nil, want an error", body)
		}
	}
}

func TestNotifyTarget(t *testing.T) {
	ch := &channel.Channel{Channel: store.Channel{AppID: "hmb", AllowedHosts: []string{"hmb.example.cn", "127.0.0.1:8443"}}}
	allowed := []string{
		"https://hmb.example.cn/notify",
		"http://HMB.example.cn:8080/notify?token=x",
		"https://127.0.0.1:8443/notify",
	}
	for _, raw := range allowed {
		if _, err := notifyTarget(ch, raw); err != nil {
			t.Errorf("notifyTarget(%s) = %v, want allowed", raw, err)
		}
	}
	rejected := []string{
		"https://evil.example.cn/notify",
		"https://127.0.0.1/notify", // port 443 is not 8443
		"http://127.0.0.1:8444/notify",
		"ftp://hmb.example.cn/notify",
		"/notify",
		"https://user:pass@hmb.example.cn/notify",
		"https://hmb.example.cn.evil.cn/notify",
	}
	for _, raw := range rejected {
		if _, err := notifyTarget(ch, raw); err == nil {
			t.Errorf("notifyTarget(%s) allowed, want rejected", raw)
		}
	}
}

func sampleOrder(status store.OrderStatus, payKind string) *store.Order {
	o := &store.Order{
		ID: 7, AppID: "hmb", PayNo: "P2026120400000001", HiPayNo: "HMB0001", PayKind: payKind,
		Total: 58800, RedirectURL: "https://hmb.example.cn/paid?a=1&b=2", Status: status,
	}
	switch status {
	case store.OrderPaid:
		o.PaidAt = time.Date(2026, 12, 4, 2, 15, 30, 0, time.UTC)
	case store.OrderFailed:
		o.FailCode = protocol.CodePersonalBalanceShort
	}
	return o
}

func TestPaymentNotice(t *testing.T) {
	cases := []struct {
		name  string
		order *store.Order
		want  api.PaymentNotice
	}{
		{
			name:  "paid from personal accounts",
			order: sampleOrder(store.OrderPaid, store.PayKindPersonal),
			want: api.PaymentNotice{
				MedfeeSumamt: "588.00", AcctPay: "588.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
				PayResult: "1", RedirectURL: "https://hmb.example.cn/paid?a=1&b=2", HiPayNo: "HMB0001",
			},
		},
		{
			name:  "paid by mutual aid",
			order: sampleOrder(store.OrderPaid, store.PayKindMutual),
			want: api.PaymentNotice{
				MedfeeSumamt: "588.00", AcctPay: "0.00", AcctMulaidPay: "588.00", PsnCashPay: "0.00",
				PayResult: "1", RedirectURL: "https://hmb.example.cn/paid?a=1&b=2", HiPayNo: "HMB0001",
			},
		},
		{
			name:  "failed",
			order: sampleOrder(store.OrderFailed, store.PayKindPersonal),
			want: api.PaymentNotice{
				MedfeeSumamt: "588.00", AcctPay: "0.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
				PayResult: "0", RedirectURL: "https://hmb.example.cn/paid?a=1&b=2", HiPayNo: "HMB0001",
				FailCode: "20025", FailMsg: "个账余额不足",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := paymentNotice(tc.order)
			if err != nil {
				t.Fatalf("paymentNotice: %v", err)
			}
			if *got != tc.want {
				t.Errorf("paymentNotice = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestPaymentNoticeRejectsPendingOrder(t *testing.T) {
	if n, err := paymentNotice(sampleOrder(store.OrderPending, store.PayKindPersonal)); err == nil {
		t.Errorf("paymentNotice of a pending order = %+v, want an error", n)
	}
}

func TestAccountMessageText(t *testing.T) {
	paid := sampleOrder(store.OrderPaid, store.PayKindPersonal)
	paid.Refunds = []store.Refund{{ID: 3, RefundNo: "R2026120500000001", CreatedAt: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)}}
	mutual := sampleOrder(store.OrderPaid, store.PayKindMutual)

	cases := []struct {
		name  string
		order *store.Order
		item  store.OutboxItem
		want  string
	}{
		{
			name:  "debit",
			order: paid,
			item:  store.OutboxItem{Amount: -58800},
			want:  "【福建医保】您的个人账户于 2026-12-04 10:15 支出 588.00 元（惠闽保保费，订单 P2026120400000001）。",
		},
		{
			name:  "mutual-aid debit",
			order: mutual,
			item:  store.OutboxItem{Amount: -30000},
			want:  "【福建医保】您的个人账户于 2026-12-04 10:15 支出 300.00 元（惠闽保保费（家庭共济），订单 P2026120400000001）。",
		},
		{
			name:  "refund",
			order: paid,
			item:  store.OutboxItem{RefundID: 3, Amount: 10005},
			want:  "【福建医保】您的个人账户于 2026-12-05 09:00 收入 100.05 元（惠闽保保费退款，订单 P2026120400000001，退款单 R2026120500000001）。",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := accountMessageText(tc.order, &tc.item)
			if err != nil {
				t.Fatalf("accountMessageText: %v", err)
			}
			if got != tc.want {
				t.Errorf("text = %s\nwant   %s", got, tc.want)
			}
		})
	}

	if _, err := accountMessageText(paid, &store.OutboxItem{RefundID: 99, Amount: 100}); err == nil {
		t.Errorf("message of an unknown refund: no error")
	}
	if _, err := accountMessageText(paid, &store.OutboxItem{Amount: 0}); err == nil {
		t.Errorf("message of amount 0: no error")
	}
}

func TestLogSenderMasksPhone(t *testing.T) {
	var logs bytes.Buffer
	sender := LogSender{Logger: slog.New(slog.NewTextHandler(&logs, nil))}

	err := sender.Send(context.Background(), Message{ID: 5, PersonID: 9, Phone: "13812345678", Amount: -58800, Text: "【福建医保】…"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}

	line := logs.String()
	if strings.Count(line, "\n") != 1 {
		t.Errorf("LogSender wrote %d lines, want 1: %s", strings.Count(line, "\n"), line)
	}
	if strings.Contains(line, "13812345678") {
		t.Errorf("log contains the phone number in clear: %s", line)
	}
	for _, want := range []string{"138****5678", "amount=-588.00", "person_id=9", "message_id=5"} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %s: %s", want, line)
		}
	}
}
