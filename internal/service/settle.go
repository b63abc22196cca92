package service

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"strconv"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/money"
	"chsgate/internal/registry"
	"chsgate/internal/store"
	"chsgate/internal/verify"
	"chsgate/protocol"
)

// SettleResult handles CI00.02.00.02 (获取医保结算结果): the settlement of the
// order the payment page returned code for.
func (s *Services) SettleResult(ctx context.Context, ch *channel.Channel, req *api.SettleResultRequest) (*api.SettleResultResponse, error) {
	if req.Code == "" {
		return nil, protocol.NewError(protocol.CodeSettleCodeEmpty)
	}
	o, err := s.Store.Order(ctx, store.OrderKey{OrgCode: ch.OrgCode, SettleCode: req.Code})
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeOrderNotFound, req.Code)
	}
	if err != nil {
		return nil, err
	}
	authCode, err := s.open(o.AuthCodeSealed)
	if err != nil {
		return nil, err
	}
	pub, err := channelUserIDKey(ch)
	if err != nil {
		return nil, err
	}
	resp := &api.SettleResultResponse{
		AuthCode: string(authCode), PayNo: o.PayNo, HiPayNo: o.HiPayNo, PayDate: formatDateTime(o.PaidAt),
		PayKind: o.PayKind, MedfeeSumamt: money.FormatFen(o.Total),
	}
	for _, p := range o.Persons {
		line := api.SettleResult{
			Region: p.Region, PayAmt: money.FormatFen(p.Amount), PsnCashPay: money.FormatFen(0),
			AcctPay: money.FormatFen(0), AcctMulaidPay: money.FormatFen(0), SetID: p.SetID,
		}
		switch o.Status {
		case store.OrderPaid:
			line.PayResult = "1"
			if o.PayKind == store.PayKindMutual {
				line.AcctMulaidPay = money.FormatFen(p.Amount)
			} else {
				line.AcctPay = money.FormatFen(p.Amount)
			}
		case store.OrderFailed:
			line.PayResult = "0"
			line.FailCode, line.FailMsg = strconv.Itoa(o.FailCode), o.FailMsg
		default:
			// NOTE: the spec gives pay_result only 1 and 0; an order not yet
			// confirmed reports 0 with an empty pay_date and no failCode.
			line.PayResult = "0"
		}
		if line.UserID, err = userID(pub, p.CertType, p.IDCard, p.Name); err != nil {
			return nil, err
		}
		resp.PayList = append(resp.PayList, line)
	}
	return resp, nil
}

// Query handles CI00.02.00.04 (单笔结算单查询): one order by pay_no or
// hi_pay_no, with each person's payment and refund.
func (s *Services) Query(ctx context.Context, ch *channel.Channel, req *api.QueryRequest) (*api.QueryResponse, error) {
	if err := checkChannelFields(ch, req.AppID, req.ServiceID, req.OrgCode); err != nil {
		return nil, err
	}
	key := store.OrderKey{OrgCode: ch.OrgCode, PayNo: req.PayNo}
	name := req.PayNo
	switch {
	case req.PayNo == "" && req.HiPayNo == "":
		return nil, protocol.NewError(protocol.CodePayNoBothEmpty)
	case req.PayNo == "":
		key = store.OrderKey{OrgCode: ch.OrgCode, HiPayNo: req.HiPayNo}
		name = req.HiPayNo
	}
	o, err := s.Store.Order(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeOrderNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	if req.PayNo != "" && req.HiPayNo != "" && o.HiPayNo != req.HiPayNo {
		return nil, protocol.NewError(protocol.CodeOrderNotFound, name)
	}
	pub, err := channelUserIDKey(ch)
	if err != nil {
		return nil, err
	}

	resp := &api.QueryResponse{HiPayNo: o.HiPayNo, PayNo: o.PayNo, PayDate: formatDateTime(o.PaidAt)}
	for _, p := range o.Persons {
		line := api.QueryPerson{
			IsUsePay: "0", PayStat: "0", PayAmt: money.FormatFen(p.Amount),
			AcctPay: money.FormatFen(0), AcctMulaidPay: money.FormatFen(0), PsnCashPay: money.FormatFen(0),
			RefundAmt: money.FormatFen(p.Refunded),
		}
		if o.Status == store.OrderPaid {
			line.IsUsePay, line.PayStat = "1", "1"
			if o.PayKind == store.PayKindMutual {
				line.AcctMulaidPay = money.FormatFen(p.Amount)
			} else {
				line.AcctPay = money.FormatFen(p.Amount)
			}
		}
		for _, r := range o.Refunds {
			for _, rp := range r.Persons {
				if rp.OrderPersonID == p.ID {
					line.PayStat = "2"
					line.HiRefundNo, line.RefundNo, line.RefundDate = r.HiRefundNo, r.RefundNo, formatDateTime(r.CreatedAt)
				}
			}
		}
		if line.UserID, err = userID(pub, p.CertType, p.IDCard, p.Name); err != nil {
			return nil, err
		}
		resp.PayList = append(resp.PayList, line)
	}
	return resp, nil
}

// Refund handles CI00.02.00.03 (医保支付退款): it returns part or all of what
// each listed person paid to the account it came from. hi_refund_no is
// idempotent like hi_pay_no.
func (s *Services) Refund(ctx context.Context, ch *channel.Channel, req *api.RefundRequest) (*api.RefundResponse, error) {
	if req.AuthCode == "" {
		return nil, protocol.NewError(protocol.CodeAuthCodeEmpty)
	}
	if req.PayNo == "" {
		return nil, protocol.NewError(protocol.CodeBadField, "pay_no")
	}
	if req.HiRefundNo == "" || len(req.HiRefundNo) > maxHiPayNo {
		return nil, protocol.NewError(protocol.CodeBadField, "hi_refund_no")
	}
	if _, err := time.ParseInLocation(dateTimeLayout, req.HiRefundDate, protocol.Shanghai()); err != nil {
		return nil, protocol.Wrap(protocol.CodeBadField, err, "hi_refund_date")
	}
	total, err := money.ParseYuan(req.RefundAmt, money.Positive)
	if err != nil {
		return nil, protocol.Wrap(protocol.CodeBadField, err, "refund_amt")
	}
	if len(req.PayList) == 0 {
		return nil, protocol.NewError(protocol.CodePaylistEmpty)
	}
	amounts := make([]int64, len(req.PayList))
	var sum int64
	for i, p := range req.PayList {
		prefix := "paylist[" + strconv.Itoa(i) + "]."
		if err := checkIdentity(p.CertType, p.Name, p.IDCard, prefix); err != nil {
			return nil, err
		}
		req.PayList[i].IDCard, _ = registry.ValidateIDCard(p.CertType, p.IDCard)
		if amounts[i], err = money.ParseYuan(p.RefundAmt, money.Positive); err != nil {
			return nil, protocol.Wrap(protocol.CodeBadField, err, prefix+"refund_amt")
		}
		sum += amounts[i]
	}
	if sum != total {
		return nil, protocol.NewError(protocol.CodeTotalMismatch)
	}
	hash, err := requestHash(req)
	if err != nil {
		return nil, err
	}

	o, err := s.Store.Order(ctx, store.OrderKey{OrgCode: ch.OrgCode, PayNo: req.PayNo})
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeOrderNotFound, req.PayNo)
	}
	if err != nil {
		return nil, err
	}
	for i := range o.Refunds {
		if o.Refunds[i].HiRefundNo == req.HiRefundNo {
			return s.repeatRefund(ctx, ch, o, &o.Refunds[i], hash)
		}
	}
	if err := s.checkRefundCode(ctx, ch, o, req.AuthCode); err != nil {
		return nil, err
	}
	if o.Status != store.OrderPaid {
		return nil, protocol.NewError(protocol.CodeOrderStateConflict)
	}
	if o.PayKind == store.PayKindPersonal && len(req.PayList) > 1 {
		return nil, protocol.NewError(protocol.CodeRefundSinglePerson)
	}

	now := s.now()
	refundNo, err := newOrderNumber("R", now)
	if err != nil {
		return nil, err
	}
	refund := &store.Refund{
		OrderID: o.ID, AppID: ch.AppID, OrgCode: ch.OrgCode, HiRefundNo: req.HiRefundNo, RefundNo: refundNo,
		RequestHash: hash, Total: total, CreatedAt: now,
	}
	for i, p := range req.PayList {
		line := findOrderPerson(o, p.IDCard)
		if line == nil || line.Name != p.Name {
			return nil, protocol.Wrap(protocol.CodeNotAuthorized, errors.New("refunded person is not in the order"), "paylist["+strconv.Itoa(i)+"]")
		}
		if line.Refunded > 0 {
			return nil, protocol.NewError(protocol.CodeRefundRepeated, o.PayNo, registry.MaskName(p.Name))
		}
		if amounts[i] > line.Amount {
			return nil, protocol.NewError(protocol.CodeRefundTooLarge)
		}
		setID, err := newOrderNumber("S", now)
		if err != nil {
			return nil, err
		}
		refund.Persons = append(refund.Persons, store.RefundPerson{OrderPersonID: line.ID, Amount: amounts[i], SetID: setID})
	}

	stored, err := s.Store.CreateRefund(ctx, refund)
	switch {
	case errors.Is(err, store.ErrExists):
		return s.repeatRefund(ctx, ch, o, stored, hash)
	case errors.Is(err, store.ErrAlreadyRefunded):
		return nil, protocol.NewError(protocol.CodeRefundRepeated, o.PayNo, registry.MaskName(req.PayList[0].Name))
	case errors.Is(err, store.ErrRefundTooLarge):
		return nil, protocol.NewError(protocol.CodeRefundTooLarge)
	case errors.Is(err, store.ErrOrderState):
		return nil, protocol.NewError(protocol.CodeOrderStateConflict)
	case err != nil:
		s.logger().ErrorContext(ctx, "refund not posted", "appid", ch.AppID, "pay_no", o.PayNo, "hi_refund_no", req.HiRefundNo, "error", err)
		return nil, protocol.Wrap(protocol.CodeRefundPostFailed, err)
	}
	return s.refundResponse(ch, o, stored)
}

// checkRefundCode accepts the order's own auth code, also once it expired
// or was superseded, or the applicant's current code: 20033 for an unknown
// code, 20032 for a valid code of anyone else.
func (s *Services) checkRefundCode(ctx context.Context, ch *channel.Channel, o *store.Order, code string) error {
	auth, err := s.authorization(ctx, ch, code)
	if err != nil {
		return err
	}
	if hmacEqual(auth.CodeHash, o.AuthCodeHash) {
		return nil
	}
	own, err := s.Store.Authorization(ctx, o.AuthCodeHash)
	if err != nil {
		return err
	}
	current := s.now().Before(auth.ExpiresAt) && auth.SupersededAt.IsZero()
	if current && auth.ApplicantIDCard == own.ApplicantIDCard && auth.ApplicantCertType == own.ApplicantCertType {
		return nil
	}
	return protocol.Wrap(protocol.CodeNotAuthorized, errors.New("auth code is neither the order's nor the applicant's current one"))
}

// repeatRefund handles a refund whose hi_refund_no is taken.
func (s *Services) repeatRefund(ctx context.Context, ch *channel.Channel, o *store.Order, r *store.Refund, hash []byte) (*api.RefundResponse, error) {
	if !hmacEqual(r.RequestHash, hash) {
		return nil, protocol.NewError(protocol.CodeIdempotencyConflict, r.HiRefundNo)
	}
	if r.OrderID != o.ID {
		fresh, err := s.Store.Order(ctx, store.OrderKey{OrgCode: ch.OrgCode, PayNo: o.PayNo})
		if err != nil {
			return nil, err
		}
		o = fresh
	}
	return s.refundResponse(ch, o, r)
}

func (s *Services) refundResponse(ch *channel.Channel, o *store.Order, r *store.Refund) (*api.RefundResponse, error) {
	pub, err := channelUserIDKey(ch)
	if err != nil {
		return nil, err
	}
	resp := &api.RefundResponse{
		HiRefundNo: r.HiRefundNo, PayNo: o.PayNo, RefundNo: r.RefundNo,
		RefundDate: formatDateTime(r.CreatedAt), RefundAmt: money.FormatFen(r.Total),
	}
	for _, rp := range r.Persons {
		var line *store.OrderPerson
		for i := range o.Persons {
			if o.Persons[i].ID == rp.OrderPersonID {
				line = &o.Persons[i]
			}
		}
		if line == nil {
			return nil, errors.New("refund names a line that is not in its order")
		}
		uid, err := userID(pub, line.CertType, line.IDCard, line.Name)
		if err != nil {
			return nil, err
		}
		resp.PayList = append(resp.PayList, api.RefundResult{PayAmt: money.FormatFen(rp.Amount), SetID: rp.SetID, Region: line.Region, UserID: uid})
	}
	return resp, nil
}

func findOrderPerson(o *store.Order, idcard string) *store.OrderPerson {
	for i := range o.Persons {
		if o.Persons[i].IDCard == idcard {
			return &o.Persons[i]
		}
	}
	return nil
}

func userID(pub *ecdsa.PublicKey, certType, idcard, name string) (string, error) {
	return protocol.EncryptUserID(pub, protocol.UserID{CertType: certType, IDCard: idcard, Name: name})
}

// formatDateTime writes t as yyyy-MM-dd HH:mm:ss in Shanghai time, and a
// zero t as "".
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(protocol.Shanghai()).Format(dateTimeLayout)
}

// ConfirmPay ends a payment page: it verifies the applicant again with v,
// then settles the order, and returns where to send the browser:
// redirect_url with the settlement code when paid, fail_url with it when the
// settlement failed or verification failed. A failed verification leaves
// the order pending. Errors mean no address, as for CompleteAuth.
func (s *Services) ConfirmPay(ctx context.Context, ticket string, v verify.Verifier, evidence map[string]string) (string, error) {
	o, auth, err := s.payTicketOrder(ctx, ticket)
	if err != nil {
		return "", err
	}
	applicant := auth.Persons[0]
	subject := verify.Subject{Name: applicant.Name, IDCard: applicant.IDCard, CertType: applicant.CertType}
	var failed *verify.FailedError
	switch err := v.Verify(ctx, subject, evidence); {
	case errors.As(err, &failed):
		s.logger().InfoContext(ctx, "identity verification failed", "appid", o.AppID, "pay_no", o.PayNo, "reason", failed.Reason)
		// The browser goes to fail_url with the settlement code, as after a
		// failed settlement; the order stays pending, so CI00.02.00.02 shows
		// it unpaid.
		return withQuery(o.FailURL, "code", o.SettleCode), nil
	case err != nil:
		return "", err
	}

	settled, err := s.Store.SettleOrder(ctx, o.ID, s.now())
	if errors.Is(err, store.ErrOrderState) {
		return "", ErrTicketUsed
	}
	if err != nil {
		return "", err
	}
	s.logger().InfoContext(ctx, "order settled", "appid", o.AppID, "pay_no", o.PayNo, "status", string(settled.Status), "fail_code", settled.FailCode)
	if settled.Status == store.OrderPaid {
		return withQuery(o.RedirectURL, "code", o.SettleCode), nil
	}
	return withQuery(o.FailURL, "code", o.SettleCode), nil
}

// DeclinePay ends a payment page that the person declined, which only the
// sandbox simulates. It returns fail_url with the order's settlement code,
// as a failed settlement does, but settles nothing. The order stays
// pending, so CI00.02.00.02 reports it unpaid and the page stays open until
// its ticket expires.
func (s *Services) DeclinePay(ctx context.Context, ticket string) (string, error) {
	o, _, err := s.payTicketOrder(ctx, ticket)
	if err != nil {
		return "", err
	}
	s.logger().InfoContext(ctx, "payment declined", "appid", o.AppID, "pay_no", o.PayNo)
	return withQuery(o.FailURL, "code", o.SettleCode), nil
}

// payTicketOrder loads the pending order of a pay page ticket and its
// authorization.
func (s *Services) payTicketOrder(ctx context.Context, ticket string) (*store.Order, *store.Authorization, error) {
	o, err := s.Store.Order(ctx, store.OrderKey{TicketHash: hashSecret(ticket)})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrTicketNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if o.Status != store.OrderPending {
		return nil, nil, ErrTicketUsed
	}
	if !s.now().Before(o.TicketExpiry) {
		return nil, nil, ErrTicketExpired
	}
	auth, err := s.Store.Authorization(ctx, o.AuthCodeHash)
	if err != nil {
		return nil, nil, err
	}
	if len(auth.Persons) == 0 || !auth.Persons[0].Applicant {
		return nil, nil, errors.New("authorization without its applicant")
	}
	return o, auth, nil
}

// PayTicketView is the content of the payment page.
type PayTicketView struct {
	OrgCode  string
	HiPayNo  string
	PayNo    string
	Total    string // yuan
	PayKind  string // the pay kind's Chinese name
	Persons  []PayPersonView
	Accounts []AccountView
	// ExpiresAt is when the page closes.
	ExpiresAt time.Time
	// FormTargets are the origins the page's form may end up at, as in
	// AuthTicketView.
	FormTargets []string
}

// PayPersonView is one person's debit on the page, masked.
type PayPersonView struct {
	PersonView
	Amount string // yuan
}

// AccountView is one paying account and its balance now.
type AccountView struct {
	Holder  string // masked name
	Balance string // yuan
	Debit   string // yuan, the total this order takes from it
}

// PayTicket returns the view of an open payment page. Opening the page does
// not use the ticket up.
func (s *Services) PayTicket(ctx context.Context, ticket string) (*PayTicketView, error) {
	o, _, err := s.payTicketOrder(ctx, ticket)
	if err != nil {
		return nil, err
	}
	view := &PayTicketView{
		OrgCode: o.OrgCode, HiPayNo: o.HiPayNo, PayNo: o.PayNo, Total: money.FormatFen(o.Total),
		PayKind: "个人账户支付", ExpiresAt: o.TicketExpiry,
		FormTargets: origins(o.RedirectURL, o.FailURL),
	}
	if o.PayKind == store.PayKindMutual {
		view.PayKind = "家庭共济账户支付"
	}
	debits := map[int64]int64{}
	var payers []int64
	for _, p := range o.Persons {
		view.Persons = append(view.Persons, PayPersonView{PersonView: personView(p.Name, p.IDCard, p.CertType, ""), Amount: money.FormatFen(p.Amount)})
		if _, seen := debits[p.PayerPersonID]; !seen {
			payers = append(payers, p.PayerPersonID)
		}
		debits[p.PayerPersonID] += p.Amount
	}
	for _, id := range payers {
		balance, _, err := s.Store.AccountBalance(ctx, id)
		if err != nil {
			return nil, err
		}
		holder := ""
		for _, p := range o.Persons {
			if p.PersonID == id {
				holder = registry.MaskName(p.Name)
			}
		}
		if holder == "" {
			holder = "户主"
		}
		view.Accounts = append(view.Accounts, AccountView{Holder: holder, Balance: money.FormatFen(balance), Debit: money.FormatFen(debits[id])})
	}
	return view, nil
}
