package api

// ReconDetailRequest is CI00.02.00.08 (明细对账): the institution's
// settlement records of a date range, compared record by record.
type ReconDetailRequest struct {
	AppID        string `json:"appid"`
	ServiceID    string `json:"service_id"`
	OrgCode      string `json:"org_code"`
	StmtBegndate string `json:"stmt_begndate"` // yyyy-MM-dd, Asia/Shanghai, inclusive
	StmtEnddate  string `json:"stmt_enddate"`  // yyyy-MM-dd, inclusive
	// IDCard limits the comparison to one person's records.
	IDCard       string       `json:"idcard,omitempty"`
	SetlDDTOList []SetlRecord `json:"setlDDTOList"`
}

// SetlRecord is one settlement record: a person's line of a payment, or a
// person's refund with negative amounts.
type SetlRecord struct {
	SetlID        string `json:"setlId"`
	PayAmt        string `json:"pay_amt"`
	AcctPay       string `json:"acct_pay"`
	AcctMulaidPay string `json:"acct_mulaid_pay"`
	PsnCashPay    string `json:"psn_cash_pay"`
	Name          string `json:"name"`
	IDCard        string `json:"idcard"`
	// HiPayNo is the third party's payment number, or refund number for a
	// refund record.
	HiPayNo string `json:"hi_pay_no"`
}

// ReconDetailResponse is the comparison of every record either side has.
// The response's data is the array itself.
type ReconDetailResponse []ReconDetailResult

// ReconDetailResult is the result for one record.
type ReconDetailResult struct {
	SetlID string `json:"setlId"`
	// StmtRslt is "0" balanced, "101" only the center has the record, "102"
	// only the institution has it, "103" both have it but a field differs.
	StmtRslt string `json:"stmtRslt"`
	Memo     string `json:"memo"`
}

// ReconTotalRequest is CI00.02.00.09 (总对账): the institution's totals of a
// date range. Refunds count as negative amounts.
type ReconTotalRequest struct {
	AppID            string `json:"appid"`
	ServiceID        string `json:"service_id"`
	OrgCode          string `json:"org_code"`
	StmtBegndate     string `json:"stmt_begndate"`
	StmtEnddate      string `json:"stmt_enddate"`
	PayAmt           string `json:"pay_amt"`
	AcctPay          string `json:"acct_pay"`
	AcctMulaidPay    string `json:"acct_mulaid_pay"`
	PsnCashPay       string `json:"psn_cash_pay"`
	FixmedinsSetlCnt string `json:"fixmedins_setl_cnt"`
}

// ReconTotalResponse is the result of comparing the totals.
type ReconTotalResponse struct {
	Memo     string `json:"memo"`
	StmtRslt string `json:"stmtRslt"` // "0" balanced, "1" not
}

// Detail reconciliation results.
const (
	StmtBalanced      = "0"
	StmtUnbalanced    = "1"
	StmtOnlyCenter    = "101"
	StmtOnlyInstitute = "102"
	StmtFieldsDiffer  = "103"
)
