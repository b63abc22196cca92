// Package demo runs the whole job of the platform once, end to end. It
// starts a sandbox server in this process on a loopback port. Then it plays
// a third party through the SDK over real HTTP, the path an integrator
// takes.
package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"chsgate/api"
	"chsgate/internal/money"
	"chsgate/internal/registry"
	"chsgate/internal/server"
	"chsgate/internal/store"
	"chsgate/internal/store/sqlite"
	"chsgate/protocol"
	"chsgate/sdk"
)

// callbackWait bounds the wait for the payment-result callback.
const callbackWait = 15 * time.Second

// Run runs the demo, printing each step and its result to out. It returns
// an error when a step did not give the expected result.
func Run(ctx context.Context, out io.Writer) error {
	d := &demo{out: out, start: time.Now()}
	defer d.cleanup()
	if err := d.startServer(ctx); err != nil {
		return fmt.Errorf("start the sandbox server: %w", err)
	}
	steps := []struct {
		title string
		run   func(context.Context) (string, error)
	}{
		{"参保查询 CI00.01.00.03", d.insured},
		{"授权 CI00.01.00.01 + 授权页面（模拟人脸核验通过）", d.authorize},
		{"查询授权人员 CI00.01.00.02", d.userInfo},
		{"家庭共济支付 CI00.02.00.01 + 支付页面确认", d.pay},
		{"接收支付结果回调 CI00.02.00.NOTIFY", d.callback},
		{"获取结算结果 CI00.02.00.02", d.settleResult},
		{"单笔结算单查询 CI00.02.00.04", d.query},
		{"部分退款 CI00.02.00.03", d.refund},
		{"明细对账 CI00.02.00.08", d.reconDetail},
		{"总对账 CI00.02.00.09", d.reconTotal},
	}
	fmt.Fprintf(out, "chsgate 演示：沙箱网关已在 %s 启动（临时 SQLite 数据库，模拟参保人 %d 名，演示渠道 %s）\n\n", d.url, len(d.persons), server.DemoAppID)
	for i, step := range steps {
		fmt.Fprintf(out, "[%d/%d] %s\n", i+1, len(steps), step.title)
		result, err := step.run(ctx)
		if err != nil {
			fmt.Fprintf(out, "      失败：%v\n", err)
			return fmt.Errorf("step %d (%s) failed: %w", i+1, step.title, err)
		}
		for _, line := range strings.Split(result, "\n") {
			fmt.Fprintf(out, "      %s\n", line)
		}
	}
	fmt.Fprintf(out, "\n全部 %d 步均符合预期。共划扣 %s 元，退款 %s 元，对账平。用时 %.1f 秒。\n",
		len(steps), money.FormatFen(d.paid), money.FormatFen(d.refunded), time.Since(d.start).Seconds())
	return nil
}

// demo is the state the steps pass on.
type demo struct {
	out     io.Writer
	start   time.Time
	dir     string
	url     string
	stop    func()
	client  *sdk.Client
	persons []store.PersonRecord
	family  []store.PersonRecord // the head first

	notices    chan *api.PaymentNotice
	notifyURL  string
	redirects  string
	authCode   string
	hiPayNo    string
	settleCode string
	settlement *api.SettleResultResponse
	refundResp *api.RefundResponse
	refundedIx int // the family member refunded
	paid       int64
	refunded   int64
	day        string
}

func (d *demo) cleanup() {
	if d.stop != nil {
		d.stop()
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

func (d *demo) startServer(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "chsgate-demo-")
	if err != nil {
		return err
	}
	d.dir = dir
	st, err := sqlite.Open(ctx, filepath.Join(dir, "demo.db"))
	if err != nil {
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return err
	}
	masterKey := make([]byte, 32)
	rand.Read(masterKey)

	// The third party's side: its redirect pages and its callback receiver,
	// on another loopback port.
	receiver, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return err
	}
	d.redirects = "http://" + receiver.Addr().String()
	d.notifyURL = d.redirects + "/notify"
	d.notices = make(chan *api.PaymentNotice, 4)

	runCtx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(runCtx, server.Config{
			Store: st, MasterKey: masterKey, Addr: "127.0.0.1:0", Sandbox: true,
			NotifyPollInterval: 100 * time.Millisecond,
			Logger:             slog.New(slog.DiscardHandler),
			Ready:              func(public, _ net.Addr) { ready <- "http://" + public.String() },
		})
	}()
	var receiverServer *http.Server
	d.stop = func() {
		cancel()
		<-done
		if receiverServer != nil {
			receiverServer.Close()
		}
		st.Close()
	}
	select {
	case d.url = <-ready:
	case err := <-done:
		done <- err
		return err
	case <-time.After(20 * time.Second):
		return errors.New("server not ready after 20 s")
	}

	d.client, err = sdk.New(d.url, server.DemoAppID,
		sdk.WithCredentials(server.DemoAppSecret, server.DemoBizKey, server.DemoSalt),
		sdk.WithSignType(protocol.SignMD5),
		sdk.WithSM2PrivateKey(server.DemoSM2PrivateKey))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/notify", sdk.NewNotifyHandler(d.client, func(_ context.Context, n *api.PaymentNotice) error {
		select {
		case d.notices <- n:
		default:
		}
		return nil
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("third party page\n")) })
	receiverServer = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go receiverServer.Serve(receiver)

	d.persons = registry.Synthetic(server.SandboxSeed)
	d.family = demoFamily(d.persons)
	if len(d.family) < 3 {
		return errors.New("the sandbox registry has no family of a head with an account and two insured members")
	}
	d.day = time.Now().In(protocol.Shanghai()).Format("2006-01-02")
	return nil
}

// demoFamily returns an insured household head with a personal account and
// two insured members of the head's network.
func demoFamily(persons []store.PersonRecord) []store.PersonRecord {
	for _, head := range persons {
		if head.Relation != registry.RelationHead || head.FamilyID == "" || !head.HasAccount ||
			head.InsuStatus != registry.InsuStatusNormal || head.Balance < 200000 {
			continue
		}
		family := []store.PersonRecord{head}
		for _, p := range persons {
			if p.FamilyID == head.FamilyID && p.IDCard != head.IDCard && p.InsuStatus == registry.InsuStatusNormal {
				family = append(family, p)
			}
		}
		if len(family) >= 3 {
			return family[:3]
		}
	}
	return nil
}

func describe(p store.PersonRecord) string {
	region, _ := registry.Regions().Name(p.Region)
	return fmt.Sprintf("%s（%s，%s）", registry.MaskName(p.Name), registry.MaskIDCard(p.IDCard), region)
}
