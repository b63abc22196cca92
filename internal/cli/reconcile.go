package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"chsgate/api"
	"chsgate/internal/money"
	"chsgate/sdk"
)

var reconcileCommand = &command{name: "reconcile", summary: "reconcile a date range's settlement records with the platform as a third party", run: runReconcile}

// reconcileDateLayout is the yyyy-MM-dd of --from and --to, and of the
// request fields stmt_begndate and stmt_enddate.
const reconcileDateLayout = "2006-01-02"

// reconcileFlags contains the flag values of the reconcile command.
type reconcileFlags struct {
	client    clientFlags
	serviceID string
	orgCode   string
	from      string
	to        string
	records   string
	out       string
	idcard    string
}

func runReconcile(ctx context.Context, s *streams, path string, args []string) error {
	var f reconcileFlags
	fs := newFlagSet(path,
		"--url URL --appid A --appsecret S --bizkey K --salt T --service-id SVC --org-code ORG\n"+
			"       --from YYYY-MM-DD --to YYYY-MM-DD --records FILE.csv [--out DIFF.csv] [--idcard ID] [flags]",
		"Reconciles the institution's settlement records of a date range with the platform,\n"+
			"as a third-party channel. It reads the records from a CSV file and checks every row\n"+
			"before it calls the platform. Then it sends the totals (CI00.02.00.09). When they\n"+
			"balance, it prints 对账平 and exits 0. Otherwise it prints the platform's memo, sends\n"+
			"every record (CI00.02.00.08), prints each record that differs with ID numbers\n"+
			"masked, writes them unmasked to the --out file, sends the totals again, and exits 1\n"+
			"unless they balance now.\n\n"+
			"The records file is UTF-8, with or without a byte order mark, and starts with a\n"+
			"header row. These columns are required, in any order; other columns are ignored:\n"+
			"  setlId                       the platform's settlement id of the payment or refund\n"+
			"  pay_amt, acct_pay,           amounts in yuan with at most two decimals, such as\n"+
			"  acct_mulaid_pay,             120.50; refunds are negative\n"+
			"  psn_cash_pay\n"+
			"  name, idcard                 the insured person\n"+
			"  hi_pay_no                    the third party's payment number, or refund number\n"+
			"For example:\n"+
			"  setlId,pay_amt,acct_pay,acct_mulaid_pay,psn_cash_pay,name,idcard,hi_pay_no\n"+
			"  S73920418365027194830,100.00,0.00,100.00,0.00,林建华,35010219800315123X,HMB20260501001")
	f.client.register(fs)
	fs.StringVar(&f.serviceID, "service-id", "", "channel's service id `SVC`, sent as service_id")
	fs.StringVar(&f.orgCode, "org-code", "", "third party's org code `ORG`, sent as org_code")
	fs.StringVar(&f.from, "from", "", "first day of the range, `YYYY-MM-DD`, Asia/Shanghai")
	fs.StringVar(&f.to, "to", "", "last day of the range, `YYYY-MM-DD`, included")
	fs.StringVar(&f.records, "records", "", "CSV `FILE` of the institution's settlement records in the range")
	fs.StringVar(&f.out, "out", "", "CSV `FILE` that receives the records that differ (default reconcile-YYYYMMDD-YYYYMMDD.csv of --from and --to, in the working directory); replaced if it exists")
	fs.StringVar(&f.idcard, "idcard", "", "limit the detail comparison to the person with ID number `ID`: only the file's records of that person are sent; the totals still cover the whole file")
	if err := fs.parse(s, args); err != nil {
		return err
	}

	if err := f.check(); err != nil {
		return err
	}
	client, err := f.client.newClient(fs)
	if err != nil {
		return err
	}
	records, err := readRecordsFile(s.stderr, f.records)
	if err != nil {
		return err
	}
	totals, err := sumRecords(records)
	if err != nil {
		return fmt.Errorf("%s: %w", f.records, err)
	}
	r := &reconciliation{flags: &f, client: client, stdout: s.stdout, records: records, totals: totals}
	return r.run(ctx)
}

// check checks the flags other than the client's, and sets the default of
// --out.
func (f *reconcileFlags) check() error {
	if err := f.client.checkAddress(); err != nil {
		return err
	}
	switch {
	case f.serviceID == "":
		return usagef("missing --service-id: set the channel's service id")
	case f.orgCode == "":
		return usagef("missing --org-code: set the third party's org code")
	case f.from == "":
		return usagef("missing --from: set the first day to reconcile, such as 2026-05-01")
	case f.to == "":
		return usagef("missing --to: set the last day to reconcile, such as 2026-05-01")
	case f.records == "":
		return usagef("missing --records: name the CSV file of the institution's settlement records")
	}
	from, err := time.Parse(reconcileDateLayout, f.from)
	if err != nil {
		return usagef("invalid --from %q: give an existing date as YYYY-MM-DD, such as 2026-05-01", f.from)
	}
	to, err := time.Parse(reconcileDateLayout, f.to)
	if err != nil {
		return usagef("invalid --to %q: give an existing date as YYYY-MM-DD, such as 2026-05-01", f.to)
	}
	if to.Before(from) {
		return usagef("invalid --to %s: it is before --from %s", f.to, f.from)
	}
	// The platform compares at most 31 days, both ends counted, per request.
	if days := int(to.Sub(from).Hours()/24) + 1; days > maxReconcileDays {
		return usagef("--from %s to --to %s spans %d days; the platform reconciles at most %d days per run: split the period", f.from, f.to, days, maxReconcileDays)
	}

	if f.out == "" {
		f.out = fmt.Sprintf("reconcile-%s-%s.csv", from.Format("20060102"), to.Format("20060102"))
	}
	return checkOutPath(f.out, f.records)
}

// checkOutPath checks, before anything is sent, that the difference file
// can be created at out and would not replace the records file.
func checkOutPath(out, records string) error {
	info, err := os.Stat(filepath.Dir(out))
	if err != nil || !info.IsDir() {
		return usagef("invalid --out %s: directory %s does not exist", out, filepath.Dir(out))
	}
	info, err = os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return usagef("invalid --out %s: %v", out, err)
	case info.IsDir():
		return usagef("invalid --out %s: it is a directory; name a file", out)
	}
	if recordsInfo, err := os.Stat(records); err == nil && os.SameFile(info, recordsInfo) {
		return usagef("invalid --out %s: it is the records file, which the difference file would replace", out)
	}
	return nil
}

// reconciliation is one run of the reconcile command over valid records.
type reconciliation struct {
	flags   *reconcileFlags
	client  *sdk.Client
	stdout  io.Writer
	records []settlementRecord
	totals  recordTotals
}

// run reconciles the totals first and, only when they differ, the
// records, then the totals again. A balanced total needs no detail, and
// the detail request is the one that carries every record.
func (r *reconciliation) run(ctx context.Context) error {
	f := r.flags
	period := fmt.Sprintf("%s 至 %s", f.from, f.to)
	first, err := r.total(ctx)
	if err != nil {
		return err
	}
	if first.StmtRslt == api.StmtBalanced {
		fmt.Fprintf(r.stdout, "总对账 %s：对账平（%s）\n", period, formatTotals(r.totals))
		return nil
	}
	fmt.Fprintf(r.stdout, "总对账 %s：对账不平（%s）。%s\n", period, formatTotals(r.totals), terminalText(first.Memo))

	sent := r.detailRecords()
	results, err := r.client.ReconDetail(ctx, &api.ReconDetailRequest{
		AppID: f.client.appID, ServiceID: f.serviceID, OrgCode: f.orgCode,
		StmtBegndate: f.from, StmtEnddate: f.to, IDCard: f.idcard, SetlDDTOList: sent,
	})
	if err != nil {
		return fmt.Errorf("detail reconciliation (%s): %w", api.FunReconDetail, err)
	}
	diffs := differences(*results, r.records)
	if len(diffs) == 0 {
		fmt.Fprintf(r.stdout, "明细对账：发送 %d 条记录，逐条一致\n", len(sent))
	} else {
		fmt.Fprintf(r.stdout, "明细对账：发送 %d 条记录，%d 条不一致：\n", len(sent), len(diffs))
		if err := printDifferences(r.stdout, diffs); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
	}
	if err := writeDifferences(f.out, diffs); err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "差异表已写入 %s（%d 行）\n", f.out, len(diffs))

	second, err := r.total(ctx)
	if err != nil {
		return err
	}
	if second.StmtRslt == api.StmtBalanced {
		fmt.Fprintf(r.stdout, "再次总对账 %s：对账平（%s）\n", period, formatTotals(r.totals))
		return nil
	}
	fmt.Fprintf(r.stdout, "再次总对账 %s：对账不平。%s\n", period, terminalText(second.Memo))
	noun := "records differ"
	if len(diffs) == 1 {
		noun = "record differs"
	}
	return fmt.Errorf("the records of %s to %s do not balance with the platform: %d %s; they are listed in %s. If the file holds other days, check --from and --to",
		f.from, f.to, len(diffs), noun, f.out)
}

// maxReconcileDays is the longest range the platform reconciles at once.
const maxReconcileDays = 31

// total sends the totals of the file (CI00.02.00.09).
func (r *reconciliation) total(ctx context.Context) (*api.ReconTotalResponse, error) {
	f := r.flags
	t := r.totals
	resp, err := r.client.ReconTotal(ctx, &api.ReconTotalRequest{
		AppID: f.client.appID, ServiceID: f.serviceID, OrgCode: f.orgCode,
		StmtBegndate: f.from, StmtEnddate: f.to,
		PayAmt:           money.FormatFen(t.amounts[amountPayAmt]),
		AcctPay:          money.FormatFen(t.amounts[amountAcctPay]),
		AcctMulaidPay:    money.FormatFen(t.amounts[amountAcctMulaidPay]),
		PsnCashPay:       money.FormatFen(t.amounts[amountPsnCashPay]),
		FixmedinsSetlCnt: strconv.Itoa(t.count),
	})
	if err != nil {
		return nil, fmt.Errorf("total reconciliation (%s): %w", api.FunReconTotal, err)
	}
	return resp, nil
}

// detailRecords returns the records that CI00.02.00.08 sends: all of
// them, or with --idcard only that person's, because the platform then
// compares only its records of that person and would count any other as
// one it lacks.
func (r *reconciliation) detailRecords() []api.SetlRecord {
	sent := make([]api.SetlRecord, 0, len(r.records))
	for _, record := range r.records {
		if r.flags.idcard == "" || sameIDCard(record.wire.IDCard, r.flags.idcard) {
			sent = append(sent, record.wire)
		}
	}
	return sent
}

// sameIDCard compares two ID numbers as the registry stores them: the
// check character x of an 18-character mainland number in upper case.
func sameIDCard(a, b string) bool {
	upper := func(s string) string {
		if len(s) == 18 {
			return strings.ToUpper(s)
		}
		return s
	}
	return upper(a) == upper(b)
}
