package gateway_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/gateway"
	"chsgate/internal/servertest"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
)

// panickingDispatcher is a business function with a bug.
type panickingDispatcher struct{}

func (panickingDispatcher) Has(string) bool { return true }

func (panickingDispatcher) Dispatch(context.Context, *channel.Channel, string, []byte) (any, error) {
	panic("bug in a business function")
}

func TestPanicAnsweredWithInternalCode(t *testing.T) {
	b := storetest.Backends(t)[0]
	channels := servertest.NewRegistry(t, b.Store)
	_, userPublic := servertest.SM2KeyPair(t)
	if _, err := channels.Add(context.Background(), servertest.FJSChannel(appKey, userPublic), time.Now()); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	gw := gateway.New(gateway.Config{
		Store: b.Store, Channels: channels, Dispatcher: panickingDispatcher{},
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	srv := httptest.NewServer(gw.Handler(false))
	defer srv.Close()

	ch, err := channels.Lookup(context.Background(), appKey)
	if err != nil {
		t.Fatal(err)
	}
	body, err := protocol.ProfileFJS.SealRequest(ch.Keys, &protocol.Request{
		AppID: appKey, AppSecret: servertest.AppSecret, FunID: api.FunInsured,
		Timestamp: protocol.ProfileFJS.FormatTimestamp(time.Now()), Payload: []byte(`{"userlist":[]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/gateway", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the connection failed instead of an answer: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	env, err := protocol.ProfileFJS.DecodeResponse(data)
	if err != nil {
		t.Fatalf("answer %s: %v", data, err)
	}
	if env.Code != protocol.CodeInternal {
		t.Errorf("code %d, want %d", env.Code, protocol.CodeInternal)
	}
	if strings.Contains(string(data), "bug in a business function") {
		t.Errorf("the answer shows the panic: %s", data)
	}
	if !strings.Contains(logs.String(), "panic while handling a request") {
		t.Errorf("no log line for the panic:\n%s", logs.String())
	}
}
