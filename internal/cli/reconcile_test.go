package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/server"
	"chsgate/internal/servertest"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// reconAppID is the channel that the reconciliation tests add, in key mode
// with the shared test secrets.
const reconAppID = "hmbrecon"

// reconHeader is the header of the records files the tests write.
var reconHeader = []string{"setlId", "pay_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay", "name", "idcard", "hi_pay_no"}

// reconEnv is a sandbox server with one paid order and one refund of the
// test channel, reached by the command through a proxy that counts the
// requests by function id.
type reconEnv struct {
	url        string // the proxy, for the command
	serverURL  string // the server itself, for the set-up through the SDK
	from, to   string // a range around today that holds every record
	rows       [][]string
	head       store.PersonRecord
	spouse     store.PersonRecord
	child      store.PersonRecord
	counter    *callCounter
	outputDir  string
	recordsDir string
	// client, authCode and payNo make more refunds of the order.
	client   *sdk.Client
	authCode string
	payNo    string
}

// callCounter records the function id of every request it forwards.
type callCounter struct {
	mu     sync.Mutex
	funIDs []string
	// before, when set, runs before a request is forwarded.
	before func(funID string)
}

func (c *callCounter) add(funID string) {
	c.mu.Lock()
	c.funIDs = append(c.funIDs, funID)
	before := c.before
	c.mu.Unlock()
	if before != nil {
		before(funID)
	}
}

func (c *callCounter) setBefore(before func(funID string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.before = before
}

func (c *callCounter) calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.funIDs)
}

// handler wraps next, recording the chs_fjs_funid of each request.
func (c *callCounter) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		funID := "undecodable " + r.URL.Path
		if envelope, err := protocol.ProfileFJS.DecodeRequest(body); err == nil {
			funID = envelope.FunID
		}
		c.add(funID)
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// startReconEnv runs a sandbox server on b, adds the test channel and a
// family, and pays 100.00, 80.00 and 60.00 for the head, the spouse and
// the child from the head's account, then refunds 20.00 of the child's.
// rows are the institution's four records of that day.
func startReconEnv(t *testing.T, b storetest.Backend) *reconEnv {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	privateKey, publicKey := servertest.SM2KeyPair(t)
	if _, err := servertest.NewRegistry(t, b.Store).Add(ctx, servertest.FJSChannel(reconAppID, publicKey), now); err != nil {
		t.Fatalf("add the channel: %v", err)
	}

	env := &reconEnv{counter: &callCounter{}, outputDir: t.TempDir(), recordsDir: t.TempDir()}
	person := func(name, id17, insutype string, balance int64, relation string) store.PersonRecord {
		return store.PersonRecord{
			Name: name, IDCard: servertest.WithCheckDigit(id17), CertType: "01", Region: "350100", InsuType: insutype,
			InsuStatus: "1", Balance: balance, HasAccount: insutype == "310", FamilyID: "RECON1", Relation: relation,
			Phone: "13900000000",
		}
	}
	env.head = person("对户主", "35010219800101011", "310", 100000, "0")
	env.spouse = person("对配偶", "35010219820202022", "310", 5000, "1")
	env.child = person("对子女", "35010220100303033", "390", 0, "6")
	env.child.CompanyName = "鼓楼区东街街道"
	servertest.ImportPersons(t, b.Store, []store.PersonRecord{env.head, env.spouse, env.child}, now)

	env.serverURL = servertest.Start(t, server.Config{Store: b.Store, MasterKey: servertest.MasterKey(t), Sandbox: true}).URL
	proxyTarget, err := url.Parse(env.serverURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(env.counter.handler(httputil.NewSingleHostReverseProxy(proxyTarget)))
	t.Cleanup(proxy.Close)
	env.url = proxy.URL

	env.rows = env.payAndRefund(t, privateKey)
	today := time.Now().In(protocol.Shanghai())
	// A day on each side keeps the records in range when the set-up
	// crosses midnight in Shanghai.
	env.from = today.AddDate(0, 0, -1).Format("2006-01-02")
	env.to = today.AddDate(0, 0, 1).Format("2006-01-02")
	return env
}

// payAndRefund authorizes the family, pays for all three from the head's
// account, refunds part of the child's payment, and returns the records.
func (e *reconEnv) payAndRefund(t *testing.T, privateKey string) [][]string {
	t.Helper()
	ctx := context.Background()
	client := servertest.NewClient(t, e.serverURL, reconAppID, sdk.WithSM2PrivateKey(privateKey))
	pages := servertest.StartRedirectTarget(t)
	family := []store.PersonRecord{e.head, e.spouse, e.child}

	auth := &api.AuthPageRequest{
		AppID: reconAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, UserID: "recon-user",
		Name: e.head.Name, IDCard: e.head.IDCard, CertType: "01", Phone: "13800138000",
		RedirectURL: pages + "/auth/done", FailURL: pages + "/auth/failed", URLType: "1",
	}
	for _, p := range family {
		auth.PayList = append(auth.PayList, api.AuthPerson{Name: p.Name, IDCard: p.IDCard, CertType: "01", Relation: p.Relation})
	}
	authPage, err := client.AuthPage(ctx, auth)
	if err != nil {
		t.Fatalf("CI00.01.00.01: %v", err)
	}
	authCode := e.sandboxRedirect(t, authPage.LinkURL, "complete", `{"face":"pass"}`).Query().Get("authcode")
	if authCode == "" {
		t.Fatal("the authorization page returned no authcode")
	}

	const hiPayNo = "RECONPAY0001"
	amounts := []string{"100.00", "80.00", "60.00"}
	pay := &api.PayPageRequest{
		AppID: reconAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, UserID: "recon-user",
		AuthCode: authCode, HiPayNo: hiPayNo, HiPayDate: time.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05"),
		MedfeeSumamt: "240.00", PayKind: "2", RedirectURL: pages + "/pay/done", FailURL: pages + "/pay/failed", URLType: "1",
	}
	for i, p := range family {
		pay.PayList = append(pay.PayList, api.PayPerson{
			Name: p.Name, IDCard: p.IDCard, CertType: "01", Region: p.Region, PayAmt: amounts[i], SubHisPayNo: fmt.Sprintf("%s-%d", hiPayNo, i+1),
		})
	}
	payPage, err := client.PayPage(ctx, pay)
	if err != nil {
		t.Fatalf("CI00.02.00.01: %v", err)
	}
	settleCode := e.sandboxRedirect(t, payPage.LinkURL, "confirm", `{"confirm":true}`).Query().Get("code")
	settlement, err := client.SettleResult(ctx, &api.SettleResultRequest{Code: settleCode})
	if err != nil {
		t.Fatalf("CI00.02.00.02: %v", err)
	}
	if len(settlement.PayList) != len(family) {
		t.Fatalf("settlement has %d lines, want %d", len(settlement.PayList), len(family))
	}

	var rows [][]string
	for i, line := range settlement.PayList {
		if line.PayResult != "1" || line.SetID == "" {
			t.Fatalf("settlement line %d: %+v", i, line)
		}
		p := family[i]
		rows = append(rows, []string{line.SetID, line.PayAmt, line.AcctPay, line.AcctMulaidPay, line.PsnCashPay, p.Name, p.IDCard, hiPayNo})
	}

	e.client, e.authCode, e.payNo = client, authCode, settlement.PayNo
	const hiRefundNo = "RECONREF0001"
	setlID, err := e.refund(e.child, "20.00", hiRefundNo)
	if err != nil {
		t.Fatalf("CI00.02.00.03: %v", err)
	}
	rows = append(rows, []string{setlID, "-20.00", "0.00", "-20.00", "0.00", e.child.Name, e.child.IDCard, hiRefundNo})
	return rows
}

// refund refunds amount of p's payment and returns the refund's setlId.
func (e *reconEnv) refund(p store.PersonRecord, amount, hiRefundNo string) (string, error) {
	refund, err := e.client.Refund(context.Background(), &api.RefundRequest{
		AuthCode: e.authCode, PayNo: e.payNo, HiRefundNo: hiRefundNo,
		HiRefundDate: time.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05"), RefundAmt: amount,
		PayList: []api.RefundPerson{{Name: p.Name, IDCard: p.IDCard, CertType: "01", Region: p.Region, RefundAmt: amount}},
	})
	if err != nil {
		return "", err
	}
	if len(refund.PayList) != 1 || refund.PayList[0].SetID == "" {
		return "", fmt.Errorf("refund without a setlId: %+v", refund)
	}
	return refund.PayList[0].SetID, nil
}

// sandboxRedirect completes a page through the sandbox endpoint, such as
// /sandbox/pay/{ticket}/confirm, and returns where the browser is sent.
func (e *reconEnv) sandboxRedirect(t *testing.T, linkURL, action, body string) *url.URL {
	t.Helper()
	redirect, status := servertest.SandboxRedirect(t, e.serverURL, linkURL, action, body)
	if redirect == nil {
		t.Fatalf("sandbox %s of %s: HTTP %d", action, linkURL, status)
	}
	return redirect
}

// writeRecords writes a records file with a byte order mark, as Excel
// saves "CSV UTF-8", and returns its path.
func writeRecords(t *testing.T, dir, name string, header []string, rows [][]string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\uFEFF")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// reconcileArgs returns the command line of reconcile against url, with
// the test channel, a range and a records file, followed by extra flags.
func reconcileArgs(url, from, to, records string, extra ...string) []string {
	args := []string{"reconcile", "--url", url, "--appid", reconAppID, "--appsecret", servertest.AppSecret,
		"--bizkey", servertest.BizKey, "--salt", servertest.Salt, "--service-id", servertest.ServiceID, "--org-code", servertest.OrgCode,
		"--from", from, "--to", to, "--records", records}
	return withFlags(args, extra...)
}

// readDiffFile reads a difference file, checks its byte order mark and
// header, and returns its rows.
func readDiffFile(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the difference file: %v", err)
	}
	rest, ok := bytes.CutPrefix(data, []byte("\uFEFF"))
	if !ok {
		t.Error("the difference file does not start with a UTF-8 byte order mark")
	}
	table, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatalf("parse the difference file: %v", err)
	}
	if len(table) == 0 || !slices.Equal(table[0], diffHeader) {
		t.Fatalf("difference file header = %v, want %v", table, diffHeader)
	}
	return table[1:]
}

func TestReconcileBalanced(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startReconEnv(t, b)
			// Columns in another order, with a repeated one that the
			// command ignores.
			header := []string{"name", "hi_pay_no", "备注", "setlId", "psn_cash_pay", "acct_mulaid_pay", "acct_pay", "idcard", "pay_amt", "备注"}
			order := []int{5, 7, -1, 0, 4, 3, 2, 6, 1, -1}
			var rows [][]string
			for _, row := range env.rows {
				shuffled := make([]string, len(order))
				for i, j := range order {
					if j < 0 {
						shuffled[i] = "已核"
					} else {
						shuffled[i] = row[j]
					}
				}
				rows = append(rows, shuffled)
			}
			records := writeRecords(t, env.recordsDir, "records.csv", header, rows)
			out := filepath.Join(env.outputDir, "diff.csv")

			r := run(t, "", reconcileArgs(env.url, env.from, env.to, records, "--out", out)...)
			wantSuccess(t, r)
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			want := fmt.Sprintf("总对账 %s 至 %s：对账平（4 笔，划扣金额 220.00 元）\n", env.from, env.to)
			if r.stdout != want {
				t.Errorf("stdout = %q, want %q", r.stdout, want)
			}
			if calls := env.counter.calls(); !slices.Equal(calls, []string{api.FunReconTotal}) {
				t.Errorf("calls = %v, want one %s", calls, api.FunReconTotal)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("difference file after a balanced total: %v, want none", err)
			}
		})
	}
}

func TestReconcileDifferences(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startReconEnv(t, b)
			head, spouse, child, refund := env.rows[0], env.rows[1], env.rows[2], env.rows[3]
			changed := slices.Clone(child)
			changed[1], changed[3] = "61.00", "61.00"
			extra := []string{"RECONEXTRA0001", "15.00", "0.00", "15.00", "0.00", env.head.Name, env.head.IDCard, "RECONPAY0009"}
			// The spouse's record is missing.
			records := writeRecords(t, env.recordsDir, "records.csv", reconHeader, [][]string{head, changed, refund, extra})

			// The default difference file goes to the working directory.
			work := t.TempDir()
			t.Chdir(work)
			r := run(t, "", reconcileArgs(env.url, env.from, env.to, records)...)

			if r.code != exitFailure {
				t.Errorf("exit status = %d, want 1; stderr: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "do not balance") {
				t.Errorf("stderr = %q, want it to say the records do not balance", r.stderr)
			}
			wantCalls := []string{api.FunReconTotal, api.FunReconDetail, api.FunReconTotal}
			if calls := env.counter.calls(); !slices.Equal(calls, wantCalls) {
				t.Errorf("calls = %v, want %v", calls, wantCalls)
			}

			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			// The total, the detail summary, the table of a header and 3
			// rows, the file, and the total again.
			if len(lines) != 8 {
				t.Fatalf("stdout has %d lines, want 8:\n%s", len(lines), r.stdout)
			}
			wantFirst := fmt.Sprintf("总对账 %s 至 %s：对账不平（4 笔，划扣金额 156.00 元）。划扣金额不一致：机构 156.00，中心 220.00，相差 -64.00", env.from, env.to)
			if !strings.HasPrefix(lines[0], wantFirst) {
				t.Errorf("first line = %q, want it to start with %q", lines[0], wantFirst)
			}
			if lines[1] != "明细对账：发送 4 条记录，3 条不一致：" {
				t.Errorf("detail line = %q", lines[1])
			}
			for _, column := range tableHeader {
				if !strings.Contains(lines[2], column) {
					t.Errorf("table header %q lacks %s", lines[2], column)
				}
			}
			tableRows := map[string]string{}
			for _, line := range lines[3:6] {
				tableRows[strings.Fields(line)[0]] = line
			}
			for setlID, want := range map[string][]string{
				spouse[0]: {"中心多", "机构无此记录"},
				extra[0]:  {"机构多", "中心无此记录", maskIDCard(env.head.IDCard), "RECONPAY0009", "15.00"},
				child[0]:  {"数据不一致", "划扣金额不一致", maskIDCard(env.child.IDCard), env.child.Name, "61.00"},
			} {
				line, ok := tableRows[setlID]
				if !ok {
					t.Errorf("the table has no row for %s:\n%s", setlID, r.stdout)
					continue
				}
				for _, w := range want {
					if !strings.Contains(line, w) {
						t.Errorf("row %q lacks %q", line, w)
					}
				}
			}
			for _, p := range []store.PersonRecord{env.head, env.spouse, env.child} {
				if strings.Contains(r.stdout, p.IDCard) {
					t.Errorf("stdout shows the ID number of %s unmasked", p.Name)
				}
			}
			wantFile := fmt.Sprintf("reconcile-%s-%s.csv", strings.ReplaceAll(env.from, "-", ""), strings.ReplaceAll(env.to, "-", ""))
			if lines[6] != "差异表已写入 "+wantFile+"（3 行）" {
				t.Errorf("file line = %q, want the default name %s", lines[6], wantFile)
			}
			if !strings.HasPrefix(lines[7], "再次总对账 ") || !strings.Contains(lines[7], "对账不平") {
				t.Errorf("last line = %q, want the second total, not balanced", lines[7])
			}

			diffRows := readDiffFile(t, filepath.Join(work, wantFile))
			if len(diffRows) != 3 {
				t.Fatalf("difference file has %d rows, want 3: %v", len(diffRows), diffRows)
			}
			bySetlID := map[string][]string{}
			for _, row := range diffRows {
				bySetlID[row[0]] = row
			}
			wantRows := map[string][]string{
				spouse[0]: {spouse[0], "101", "中心多", "机构无此记录", "", "", "", "", "", "", "", ""},
				extra[0]:  {extra[0], "102", "机构多", "中心无此记录", env.head.Name, env.head.IDCard, "RECONPAY0009", "15.00", "0.00", "15.00", "0.00", "5"},
				child[0]: {child[0], "103", "数据不一致", "", env.child.Name, env.child.IDCard, "RECONPAY0001",
					"61.00", "0.00", "61.00", "0.00", "3"},
			}
			for setlID, want := range wantRows {
				got, ok := bySetlID[setlID]
				if !ok {
					t.Errorf("difference file has no row for %s: %v", setlID, diffRows)
					continue
				}
				// The platform writes the memo of 103, so only its start is
				// checked.
				if setlID == child[0] {
					if !strings.HasPrefix(got[3], "划扣金额不一致：机构 61.00，中心 60.00") {
						t.Errorf("memo of the changed record = %q", got[3])
					}
					got = slices.Clone(got)
					got[3] = ""
				}
				if !slices.Equal(got, want) {
					t.Errorf("difference row\n got %q\nwant %q", got, want)
				}
			}
		})
	}
}

func TestReconcileIDCardLimitsDetail(t *testing.T) {
	backends := storetest.Backends(t)
	env := startReconEnv(t, backends[0])
	extra := []string{"RECONEXTRA0002", "15.00", "0.00", "15.00", "0.00", env.spouse.Name, env.spouse.IDCard, "RECONPAY0010"}
	records := writeRecords(t, env.recordsDir, "records.csv", reconHeader, append(slices.Clone(env.rows), extra))
	out := filepath.Join(env.outputDir, "diff.csv")

	// The head's record balances; the spouse's extra record is not sent.
	r := run(t, "", reconcileArgs(env.url, env.from, env.to, records, "--out", out, "--idcard", env.head.IDCard)...)
	if r.code != exitFailure {
		t.Errorf("exit status = %d, want 1; stderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "明细对账：发送 1 条记录，逐条一致\n") {
		t.Errorf("stdout = %q, want one record sent and balanced", r.stdout)
	}
	if rows := readDiffFile(t, out); len(rows) != 0 {
		t.Errorf("difference file rows = %v, want none", rows)
	}
}

// TestReconcileBalancedOnSecondTotal has the spouse's refund posted while
// the command runs its detail reconciliation. The file already lists the
// refund, under the number the institution expected, so the totals agree
// afterwards although the detail reports both numbers.
func TestReconcileBalancedOnSecondTotal(t *testing.T) {
	backends := storetest.Backends(t)
	env := startReconEnv(t, backends[0])
	pending := []string{"RECONPENDING01", "-10.00", "0.00", "-10.00", "0.00", env.spouse.Name, env.spouse.IDCard, "RECONREF0002"}
	records := writeRecords(t, env.recordsDir, "records.csv", reconHeader, append(slices.Clone(env.rows), pending))
	out := filepath.Join(env.outputDir, "diff.csv")

	refunded := make(chan error, 1)
	env.counter.setBefore(func(funID string) {
		if funID == api.FunReconDetail {
			_, err := env.refund(env.spouse, "10.00", "RECONREF0002")
			refunded <- err
		}
	})
	r := run(t, "", reconcileArgs(env.url, env.from, env.to, records, "--out", out)...)
	if err := <-refunded; err != nil {
		t.Fatalf("refund during the detail reconciliation: %v", err)
	}

	wantSuccess(t, r)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if !strings.Contains(lines[0], "对账不平（5 笔，划扣金额 210.00 元）") {
		t.Errorf("first line = %q, want the totals not balanced", lines[0])
	}
	want := fmt.Sprintf("再次总对账 %s 至 %s：对账平（5 笔，划扣金额 210.00 元）", env.from, env.to)
	if last := lines[len(lines)-1]; last != want {
		t.Errorf("last line = %q, want %q", last, want)
	}
	results := map[string]int{}
	for _, row := range readDiffFile(t, out) {
		results[row[1]]++
	}
	if results[api.StmtOnlyCenter] != 1 || results[api.StmtOnlyInstitute] != 1 || len(results) != 2 {
		t.Errorf("difference file results = %v, want one 101 and one 102", results)
	}
}

// TestReconcileRecordErrors checks that an invalid records file stops the
// command before any request, with the line of each problem.
func TestReconcileRecordErrors(t *testing.T) {
	counter := &callCounter{}
	platform := httptest.NewServer(counter.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no request is expected", http.StatusServiceUnavailable)
	})))
	t.Cleanup(platform.Close)

	valid := []string{"S0001", "100.00", "0.00", "100.00", "0.00", "林建华", servertest.WithCheckDigit("35010219800315123"), "HMB0001"}
	with := func(column int, value string) []string {
		row := slices.Clone(valid)
		row[column] = value
		return row
	}
	withSetlID := func(row []string, setlID string) []string {
		row = slices.Clone(row)
		row[0] = setlID
		return row
	}
	tests := []struct {
		name    string
		content []byte // written as is when set, else header and rows
		header  []string
		rows    [][]string
		want    []string
	}{
		{name: "empty file", content: []byte{}, want: []string{"line 1: the file is empty"}},
		{name: "byte order mark only", content: []byte("\uFEFF"), want: []string{"line 1: the file is empty"}},
		{name: "missing column", header: slices.Delete(slices.Clone(reconHeader), 2, 3), rows: [][]string{slices.Delete(slices.Clone(valid), 2, 3)},
			want: []string{"line 1: missing column acct_pay"}},
		{name: "duplicate column", header: append(slices.Clone(reconHeader), "pay_amt"), rows: [][]string{append(slices.Clone(valid), "1.00")},
			want: []string{"line 1: column pay_amt appears twice"}},
		{name: "bad amount on line 4", header: reconHeader,
			rows: [][]string{valid, withSetlID(valid, "S0002"), withSetlID(with(1, "1.005"), "S0003")},
			want: []string{`line 4: pay_amt: invalid amount "1.005": has more than two decimals`}},
		{name: "amount with a thousands separator", header: reconHeader, rows: [][]string{with(3, "1,000.00")},
			want: []string{`line 2: acct_mulaid_pay: invalid amount "1,000.00"`}},
		{name: "missing name", header: reconHeader, rows: [][]string{with(5, "")}, want: []string{"line 2: name: missing value"}},
		{name: "ID number in scientific notation", header: reconHeader, rows: [][]string{with(6, "3.50102E+17")},
			want: []string{"line 2: idcard: is in scientific notation"}},
		{name: "spaces around a value", header: reconHeader, rows: [][]string{with(7, " HMB0001")},
			want: []string{"line 2: hi_pay_no: has leading or trailing spaces"}},
		{name: "duplicate setlId", header: reconHeader, rows: [][]string{valid, valid},
			want: []string{`line 3: setlId: "S0001" appears twice, also on line 2`}},
		{name: "wrong number of fields", header: reconHeader, rows: [][]string{valid[:7]},
			want: []string{"line 2: has 7 fields, but the header has 8"}},
		{name: "not UTF-8", content: []byte(strings.Join(reconHeader, ",") + "\nS0001,1.00,0.00,1.00,0.00,\xc1\xd6,350102198003151231,H1\n"),
			want: []string{"line 2: name: not valid UTF-8"}},
		{name: "broken quote", content: []byte(strings.Join(reconHeader, ",") + "\nS0001,\"1.00,0.00,1.00,0.00,a,b,c\n"),
			want: []string{"line 2: invalid CSV"}},
		{name: "two problems", header: reconHeader, rows: [][]string{with(1, "abc"), withSetlID(with(2, ""), "S0002")},
			want: []string{"line 2: pay_amt", "line 3: acct_pay: missing value", "2 problems"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "records.csv")
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				path = writeRecords(t, dir, "records.csv", tt.header, tt.rows)
			}
			out := filepath.Join(dir, "diff.csv")
			before := len(counter.calls())

			r := run(t, "", reconcileArgs(platform.URL, "2026-05-01", "2026-05-01", path, "--out", out)...)
			if r.code != exitFailure {
				t.Errorf("exit status = %d, want 1; stderr: %s", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr = %q, want it to contain %q", r.stderr, w)
				}
			}
			if !strings.Contains(r.stderr, "nothing was sent to the platform") {
				t.Errorf("stderr = %q, want it to say nothing was sent", r.stderr)
			}
			if strings.Contains(r.stderr, "350102198003151231") {
				t.Errorf("stderr = %q shows an ID number", r.stderr)
			}
			if calls := counter.calls()[before:]; len(calls) != 0 {
				t.Errorf("calls = %v, want none", calls)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("difference file: %v, want none", err)
			}
		})
	}
}

func TestReconcileUsageErrors(t *testing.T) {
	counter := &callCounter{}
	platform := httptest.NewServer(counter.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no request is expected", http.StatusServiceUnavailable)
	})))
	t.Cleanup(platform.Close)
	dir := t.TempDir()
	records := writeRecords(t, dir, "records.csv", reconHeader, nil)
	args := func(extra ...string) []string {
		return reconcileArgs(platform.URL, "2026-05-01", "2026-05-02", records, extra...)
	}
	without := func(flag string) []string {
		all := args()
		i := slices.Index(all, flag)
		return slices.Delete(all, i, i+2)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing url", without("--url"), "missing --url"},
		{"missing appid", without("--appid"), "missing --appid"},
		{"missing service id", without("--service-id"), "missing --service-id"},
		{"missing org code", without("--org-code"), "missing --org-code"},
		{"missing from", without("--from"), "missing --from"},
		{"missing to", without("--to"), "missing --to"},
		{"missing records", without("--records"), "missing --records"},
		{"bad from", args("--from", "2026/05/01"), `invalid --from "2026/05/01"`},
		{"impossible date", args("--to", "2026-02-30"), `invalid --to "2026-02-30"`},
		{"to before from", args("--from", "2026-05-03"), "invalid --to 2026-05-02: it is before --from 2026-05-03"},
		{"out directory missing", args("--out", filepath.Join(dir, "absent", "diff.csv")), "does not exist"},
		{"out is a directory", args("--out", dir), "it is a directory"},
		{"out is the records file", args("--out", records), "it is the records file"},
		{"bad sign type", args("--sign-type", "SHA1"), "invalid --sign-type"},
		{"bad timeout", args("--timeout", "0s"), "invalid --timeout"},
		{"missing bizkey", without("--bizkey"), "bizkey is missing"},
		{"unknown flag", args("--date", "2026-05-01"), "flag provided but not defined: -date"},
		{"stray argument", append(args(), "records.csv"), `unexpected argument "records.csv"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFailure(t, run(t, "", tt.args...), exitUsage, tt.want)
		})
	}
	if calls := counter.calls(); len(calls) != 0 {
		t.Errorf("calls = %v, want none", calls)
	}

	r := run(t, "", reconcileArgs(platform.URL, "2026-05-01", "2026-05-01", filepath.Join(dir, "absent.csv"))...)
	wantFailure(t, r, exitFailure, "open the records file")
}

func TestReconcileHelp(t *testing.T) {
	r := run(t, "", "reconcile", "-h")
	wantSuccess(t, r)
	for _, flag := range []string{"--url", "--appid", "--appsecret", "--bizkey", "--salt", "--sign-type", "--enc-type",
		"--key-derivation", "--token-mode", "--private-key", "--platform-public-key", "--service-id", "--org-code",
		"--from", "--to", "--records", "--out", "--idcard", "setlId", "hi_pay_no"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("usage does not mention %s:\n%s", flag, r.stdout)
		}
	}
	if r := run(t, "", "help"); !strings.Contains(r.stdout, "reconcile") {
		t.Errorf("program usage does not list reconcile:\n%s", r.stdout)
	}
}

func TestMaskIDCard(t *testing.T) {
	tests := map[string]string{
		"350102198003151234": "350102********1234",
		"35010219800315123X": "350102********123X",
		"E12345678":          "E1*****78",
		"AB":                 "**",
		"":                   "",
	}
	for idcard, want := range tests {
		if got := maskIDCard(idcard); got != want {
			t.Errorf("maskIDCard(%q) = %q, want %q", idcard, got, want)
		}
	}
}

func TestDisplayWidth(t *testing.T) {
	tests := map[string]int{"医保结算ID": 10, "S0001": 5, "对账平（3 笔）": 14, "": 0}
	for s, want := range tests {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestReconcileSampleFiles keeps the documented samples in the formats
// that the command reads and writes.
func TestReconcileSampleFiles(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "docs", "reconcile-sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := readRecords(f)
	if err != nil {
		t.Fatalf("sample records: %v", err)
	}
	if len(records) != 5 {
		t.Errorf("sample has %d records, want 5", len(records))
	}
	byLine := map[string]*settlementRecord{}
	for i := range records {
		byLine[fmt.Sprint(records[i].line)] = &records[i]
	}

	rows := readDiffFile(t, filepath.Join("..", "..", "docs", "reconcile-diff-sample.csv"))
	if len(rows) != 3 {
		t.Fatalf("sample difference file has %d rows, want 3", len(rows))
	}
	for _, row := range rows {
		if len(row) != len(diffHeader) {
			t.Errorf("row %v has %d fields, want %d", row, len(row), len(diffHeader))
			continue
		}
		if resultName(row[1]) != row[2] {
			t.Errorf("row %v: result %s is not the name of code %s", row, row[2], row[1])
		}
		if row[1] == api.StmtOnlyCenter {
			continue
		}
		// A record of the institution repeats the sample's line.
		record, ok := byLine[row[11]]
		if !ok {
			t.Errorf("row %v names line %s, which is no record of the sample", row, row[11])
			continue
		}
		w := record.wire
		want := []string{w.SetlID, w.Name, w.IDCard, w.HiPayNo, w.PayAmt, w.AcctPay, w.AcctMulaidPay, w.PsnCashPay}
		got := []string{row[0], row[4], row[5], row[6], row[7], row[8], row[9], row[10]}
		if !slices.Equal(got, want) {
			t.Errorf("row %v does not match line %s of the sample: %v", row, row[11], want)
		}
	}
}
