package api

// PayPageRequest is CI00.02.00.01 (获取医保支付划扣页面表单): the third party
// asks to debit the persons' accounts for a premium.
type PayPageRequest struct {
	AppID     string `json:"appid"`
	ServiceID string `json:"service_id"`
	OrgCode   string `json:"org_code"`
	UserID    string `json:"user_id"`
	AuthCode  string `json:"auth_code"`
	HiPayNo   string `json:"hi_pay_no"`   // the third party's order number, at most 32 characters
	HiPayDate string `json:"hi_pay_date"` // yyyy-MM-dd HH:mm:ss
	// MedfeeSumamt is the total in yuan, the sum of the persons' pay_amt.
	MedfeeSumamt string      `json:"medfee_sumamt"`
	PayKind      string      `json:"pay_kind"` // 1 personal accounts, 2 the head's account (mutual aid)
	RedirectURL  string      `json:"redirect_url"`
	NotifyURL    string      `json:"notify_url,omitempty"`
	URLType      string      `json:"url_type"`
	FailURL      string      `json:"fail_url"`
	PayList      []PayPerson `json:"paylist"`
}

// PayPerson is one person's debit.
type PayPerson struct {
	Name        string `json:"name"`
	IDCard      string `json:"idcard"`
	CertType    string `json:"cert_type"`
	Region      string `json:"region"`
	PayAmt      string `json:"pay_amt"` // yuan
	SubHisPayNo string `json:"sub_his_pay_no"`
}

// PayPageResponse carries the address of the payment page.
type PayPageResponse struct {
	LinkURL string `json:"link_url"`
}

// SettleResultRequest is CI00.02.00.02 (获取医保结算结果), by the code the
// payment page returned.
type SettleResultRequest struct {
	Code string `json:"code"`
}

// SettleResultResponse is the settlement of an order.
type SettleResultResponse struct {
	AuthCode     string         `json:"auth_code"`
	PayNo        string         `json:"pay_no"`
	HiPayNo      string         `json:"hi_pay_no"`
	PayDate      string         `json:"pay_date"` // yyyy-MM-dd HH:mm:ss, "" until confirmed
	PayKind      string         `json:"pay_kind"`
	MedfeeSumamt string         `json:"medfee_sumamt"`
	PayList      []SettleResult `json:"paylist"`
}

// SettleResult is one person's settlement.
type SettleResult struct {
	Region        string `json:"region"`
	PayAmt        string `json:"pay_amt"`
	AcctPay       string `json:"acct_pay"`
	AcctMulaidPay string `json:"acct_mulaid_pay"`
	PsnCashPay    string `json:"psn_cash_pay"`
	PayResult     string `json:"pay_result"` // "1" success, "0" failure
	FailMsg       string `json:"failMsg,omitempty"`
	FailCode      string `json:"failCode,omitempty"`
	SetID         string `json:"setId"`
	UserID        string `json:"user_id"`
}

// RefundRequest is CI00.02.00.03 (医保支付退款).
type RefundRequest struct {
	AuthCode     string         `json:"auth_code"`
	PayNo        string         `json:"pay_no"`
	HiRefundNo   string         `json:"hi_refund_no"`
	HiRefundDate string         `json:"hi_refund_date"`
	RefundAmt    string         `json:"refund_amt"` // yuan, the sum of the persons' refund_amt
	PayList      []RefundPerson `json:"paylist"`
}

// RefundPerson is one person's refund.
type RefundPerson struct {
	Name      string `json:"name"`
	IDCard    string `json:"idcard"`
	CertType  string `json:"cert_type"`
	Region    string `json:"region"`
	RefundAmt string `json:"refund_amt"`
}

// RefundResponse is a posted refund.
type RefundResponse struct {
	HiRefundNo string         `json:"hi_refund_no"`
	PayNo      string         `json:"pay_no"`
	RefundNo   string         `json:"refund_no"`
	RefundDate string         `json:"refund_date"`
	RefundAmt  string         `json:"refund_amt"`
	PayList    []RefundResult `json:"paylist"`
}

// RefundResult is one person's refund.
type RefundResult struct {
	PayAmt string `json:"pay_amt"` // the refunded amount
	SetID  string `json:"setId"`
	Region string `json:"region"`
	UserID string `json:"user_id"`
}

// QueryRequest is CI00.02.00.04 (单笔结算单查询), by either number.
type QueryRequest struct {
	AppID     string `json:"appid"`
	ServiceID string `json:"service_id"`
	OrgCode   string `json:"org_code"`
	PayNo     string `json:"pay_no,omitempty"`
	HiPayNo   string `json:"hi_pay_no,omitempty"`
}

// QueryResponse is one order with its refunds.
type QueryResponse struct {
	HiPayNo string        `json:"hi_pay_no"`
	PayNo   string        `json:"pay_no"`
	PayDate string        `json:"pay_date"`
	PayList []QueryPerson `json:"paylist"`
}

// QueryPerson is one person's line of an order.
type QueryPerson struct {
	IsUsePay      string `json:"is_use_pay"` // "1" once paid
	PayStat       string `json:"pay_stat"`   // "0" not paid, "1" paid, "2" refunded
	PayAmt        string `json:"pay_amt"`
	AcctPay       string `json:"acct_pay"`
	AcctMulaidPay string `json:"acct_mulaid_pay"`
	PsnCashPay    string `json:"psn_cash_pay"`
	HiRefundNo    string `json:"hi_refund_no,omitempty"`
	RefundNo      string `json:"refund_no,omitempty"`
	RefundDate    string `json:"refund_date,omitempty"`
	RefundAmt     string `json:"refund_amt"`
	UserID        string `json:"user_id"`
}

// PaymentNotice is the business content of the payment-result callback the
// platform posts to notify_url (function id FunNotify). The spec spells
// fail_msg here, unlike failMsg elsewhere.
type PaymentNotice struct {
	MedfeeSumamt  string `json:"medfee_sumamt"`
	AcctPay       string `json:"acct_pay"`
	AcctMulaidPay string `json:"acct_mulaid_pay"`
	PsnCashPay    string `json:"psn_cash_pay"`
	PayResult     string `json:"pay_result"`
	RedirectURL   string `json:"redirect_url"`
	FailMsg       string `json:"fail_msg"`
	HiPayNo       string `json:"hi_pay_no"`
	FailCode      string `json:"failCode"`
}
