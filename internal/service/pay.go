package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/money"
	"chsgate/internal/registry"
	"chsgate/internal/store"
	"chsgate/protocol"
)

const (
	// PayTicketTTL is how long a payment page stays open.
	PayTicketTTL = 15 * time.Minute
	// maxPayPersons bounds one order's paylist.
	maxPayPersons = 20
	maxHiPayNo    = 32
	// dateTimeLayout is the spec's yyyy-MM-dd HH:mm:ss.
	dateTimeLayout = "2006-01-02 15:04:05"
)

// payLine is one validated paylist line.
type payLine struct {
	api.PayPerson
	amount int64
	person *store.Person
}

// PayPage handles CI00.02.00.01 (获取医保支付划扣页面表单): it validates the
// order, checks the authorization, the family network and the balances, and
// stores a pending order whose page the person confirms. hi_pay_no is the
// order's idempotency key: the same business fields again get the same
// response, other fields under a used number get 20101, and a request
// rejected by validation does not use the number up.
func (s *Services) PayPage(ctx context.Context, ch *channel.Channel, req *api.PayPageRequest) (*api.PayPageResponse, error) {
	lines, total, err := s.validatePayRequest(ch, req)
	if err != nil {
		return nil, err
	}
	hash, err := requestHash(req)
	if err != nil {
		return nil, err
	}

	// An order under this number decides the response, before the checks
	// below, whose outcome may have changed since (a spent auth code).
	existing, err := s.Store.Order(ctx, store.OrderKey{OrgCode: ch.OrgCode, HiPayNo: req.HiPayNo})
	if err == nil {
		return s.repeatPayPage(ctx, existing, hash, req.HiPayNo)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}

	auth, err := s.payableAuthorization(ctx, ch, req.AuthCode)
	if err != nil {
		return nil, err
	}
	head, err := s.checkPayers(ctx, auth, req.PayKind, lines, total)
	if err != nil {
		return nil, err
	}

	now := s.now()
	payNo, err := newOrderNumber("P", now)
	if err != nil {
		return nil, err
	}
	settleCode, _, err := newSecret(16)
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal([]byte(req.AuthCode))
	if err != nil {
		return nil, err
	}
	stored := *req
	stored.AuthCode = ""
	request, err := json.Marshal(&stored)
	if err != nil {
		return nil, err
	}
	order := &store.Order{
		AppID: ch.AppID, OrgCode: ch.OrgCode, HiPayNo: req.HiPayNo, PayNo: payNo, SettleCode: settleCode,
		RequestHash: hash, Request: request, AuthCodeHash: auth.CodeHash, AuthCodeSealed: sealed,
		PayKind: req.PayKind, Total: total,
		NotifyURL: req.NotifyURL, RedirectURL: req.RedirectURL, FailURL: req.FailURL,
		TicketExpiry: now.Add(PayTicketTTL), Status: store.OrderPending, CreatedAt: now,
	}
	order.TicketHash = hashSecret(s.payTicket(payNo, order.TicketExpiry))
	for _, l := range lines {
		payer := l.person.ID
		if head != nil {
			payer = head.ID
		}
		order.Persons = append(order.Persons, store.OrderPerson{
			PersonID: l.person.ID, Name: l.Name, IDCard: l.IDCard, CertType: l.CertType, Region: l.Region,
			SubHisPayNo: l.SubHisPayNo, Amount: l.amount, PayerPersonID: payer,
		})
	}

	created, err := s.Store.CreateOrder(ctx, order)
	if errors.Is(err, store.ErrExists) {
		// Another request with this number won the race.
		return s.repeatPayPage(ctx, created, hash, req.HiPayNo)
	}
	if err != nil {
		s.logger().ErrorContext(ctx, "order not stored", "appid", ch.AppID, "hi_pay_no", req.HiPayNo, "error", err)
		return nil, protocol.Wrap(protocol.CodeOrderInsertFailed, err)
	}
	return &api.PayPageResponse{LinkURL: s.payLink(created)}, nil
}

// repeatPayPage handles a CI00.02.00.01 whose hi_pay_no is taken: the same
// link while the order waits (with a new ticket once the old one expired),
// or 20101 when the fields differ.
func (s *Services) repeatPayPage(ctx context.Context, o *store.Order, hash []byte, hiPayNo string) (*api.PayPageResponse, error) {
	if !hmac.Equal(o.RequestHash, hash) {
		return nil, protocol.NewError(protocol.CodeIdempotencyConflict, hiPayNo)
	}
	if o.Status == store.OrderPending && !s.now().Before(o.TicketExpiry) {
		expiry := s.now().Add(PayTicketTTL)
		if err := s.Store.RenewOrderTicket(ctx, o.ID, hashSecret(s.payTicket(o.PayNo, expiry)), expiry); err == nil {
			o.TicketExpiry = expiry
		} else if !errors.Is(err, store.ErrOrderState) {
			return nil, err
		}
	}
	return &api.PayPageResponse{LinkURL: s.payLink(o)}, nil
}

// payTicket derives the page ticket of an order from the services' secret,
// so the same link can be given again without storing the ticket itself.
func (s *Services) payTicket(payNo string, expiry time.Time) string {
	mac := hmac.New(sha256.New, s.Secret)
	fmt.Fprintf(mac, "pay ticket\x00%s\x00%d", payNo, expiry.UnixMicro())
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

func (s *Services) payLink(o *store.Order) string {
	return s.PublicURL + "/h5/pay/" + s.payTicket(o.PayNo, o.TicketExpiry)
}

// validatePayRequest checks the fields of CI00.02.00.01 that need no
// database, and returns the lines with their amounts and the total in fen.
func (s *Services) validatePayRequest(ch *channel.Channel, req *api.PayPageRequest) ([]payLine, int64, error) {
	if err := checkChannelFields(ch, req.AppID, req.ServiceID, req.OrgCode); err != nil {
		return nil, 0, err
	}
	switch {
	case req.HiPayNo == "":
		return nil, 0, protocol.NewError(protocol.CodeHiPayNoEmpty)
	case len(req.HiPayNo) > maxHiPayNo:
		return nil, 0, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("%d characters, at most %d", len(req.HiPayNo), maxHiPayNo), "hi_pay_no")
	case req.MedfeeSumamt == "":
		return nil, 0, protocol.NewError(protocol.CodeSumAmountEmpty)
	case req.AuthCode == "":
		return nil, 0, protocol.NewError(protocol.CodeAuthCodeEmpty)
	case len(req.PayList) == 0:
		return nil, 0, protocol.NewError(protocol.CodePaylistEmpty)
	case len(req.PayList) > maxPayPersons:
		return nil, 0, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("%d persons, at most %d", len(req.PayList), maxPayPersons), "paylist")
	}
	total, err := money.ParseYuan(req.MedfeeSumamt, money.Positive)
	if err != nil {
		return nil, 0, protocol.Wrap(protocol.CodeBadField, err, "medfee_sumamt")
	}
	if _, err := time.ParseInLocation(dateTimeLayout, req.HiPayDate, protocol.Shanghai()); err != nil {
		return nil, 0, protocol.Wrap(protocol.CodeBadField, err, "hi_pay_date")
	}
	if req.PayKind != store.PayKindPersonal && req.PayKind != store.PayKindMutual {
		return nil, 0, protocol.NewError(protocol.CodeBadField, "pay_kind")
	}
	if n, err := strconv.Atoi(req.URLType); err != nil || n < 1 || n > 8 || req.URLType != strconv.Itoa(n) {
		return nil, 0, protocol.NewError(protocol.CodeBadField, "url_type")
	}
	for _, u := range []struct{ name, value string }{{"redirect_url", req.RedirectURL}, {"fail_url", req.FailURL}} {
		if u.value == "" {
			return nil, 0, protocol.NewError(protocol.CodeBadField, u.name)
		}
		if err := checkCallbackURL(ch, u.name, u.value); err != nil {
			return nil, 0, err
		}
	}
	if req.NotifyURL != "" {
		if err := checkCallbackURL(ch, "notify_url", req.NotifyURL); err != nil {
			return nil, 0, err
		}
	}

	lines := make([]payLine, len(req.PayList))
	var sum int64
	seenPerson, seenSub := map[string]bool{}, map[string]bool{}
	for i, p := range req.PayList {
		prefix := "paylist[" + strconv.Itoa(i) + "]."
		if err := checkIdentity(p.CertType, p.Name, p.IDCard, prefix); err != nil {
			return nil, 0, err
		}
		p.IDCard, _ = registry.ValidateIDCard(p.CertType, p.IDCard)
		if !registry.Regions().Contains(p.Region) {
			return nil, 0, protocol.NewError(protocol.CodeBadField, prefix+"region")
		}
		amount, err := money.ParseYuan(p.PayAmt, money.Positive)
		if err != nil {
			return nil, 0, protocol.Wrap(protocol.CodeBadField, err, prefix+"pay_amt")
		}
		if p.SubHisPayNo == "" || len(p.SubHisPayNo) > 64 || seenSub[p.SubHisPayNo] {
			return nil, 0, protocol.NewError(protocol.CodeBadField, prefix+"sub_his_pay_no")
		}
		if seenPerson[p.IDCard] {
			return nil, 0, protocol.Wrap(protocol.CodeBadField, errors.New("person listed twice"), prefix+"idcard")
		}
		seenPerson[p.IDCard], seenSub[p.SubHisPayNo] = true, true
		req.PayList[i].IDCard = p.IDCard
		lines[i] = payLine{PayPerson: req.PayList[i], amount: amount}
		sum += amount
	}
	if sum != total {
		return nil, 0, protocol.Wrap(protocol.CodeTotalMismatch, fmt.Errorf("medfee_sumamt %s, paylist sums to %s", money.FormatFen(total), money.FormatFen(sum)))
	}
	return lines, total, nil
}

// payableAuthorization returns the authorization of an auth code that may
// still pay: 20002 once it expired, was superseded, or paid an order.
func (s *Services) payableAuthorization(ctx context.Context, ch *channel.Channel, code string) (*store.Authorization, error) {
	auth, err := s.authorization(ctx, ch, code)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(auth.ExpiresAt) || !auth.SupersededAt.IsZero() || !auth.PaidAt.IsZero() {
		return nil, protocol.NewError(protocol.CodeAuthExpired)
	}
	return auth, nil
}

// checkPayers checks that every person is authorized under auth, that a
// mutual-aid payment comes from the household head for persons of the
// head's network, and that the balances cover the amounts now. The
// settling transaction checks the balances again. It returns the head whose
// account pays a mutual-aid payment, and nil for personal-account payments.
func (s *Services) checkPayers(ctx context.Context, auth *store.Authorization, payKind string, lines []payLine, total int64) (*store.Person, error) {
	authorized := map[string]bool{}
	var applicant store.AuthorizedPerson
	for _, p := range auth.Persons {
		if p.Authorized {
			authorized[p.IDCard] = true
		}
		if p.Applicant {
			applicant = p
		}
	}
	for i := range lines {
		if !authorized[lines[i].IDCard] {
			return nil, protocol.Wrap(protocol.CodeNotAuthorized, fmt.Errorf("paylist[%d] is not authorized under the auth code", i))
		}
		person, err := s.Store.PersonByIDCard(ctx, lines[i].IDCard)
		if errors.Is(err, store.ErrNotFound) || (err == nil && person.Name != lines[i].Name) {
			return nil, protocol.Wrap(protocol.CodeNotAuthorized, fmt.Errorf("paylist[%d] is not in the registry under that name", i))
		}
		if err != nil {
			return nil, err
		}
		lines[i].person = person
	}

	if payKind == store.PayKindPersonal {
		for i, l := range lines {
			balance, ok, err := s.Store.AccountBalance(ctx, l.person.ID)
			if err != nil {
				return nil, err
			}
			if !ok || balance < l.amount {
				return nil, protocol.Wrap(protocol.CodePersonalBalanceShort, fmt.Errorf("paylist[%d]", i))
			}
		}
		return nil, nil
	}

	head, err := s.Store.PersonByIDCard(ctx, applicant.IDCard)
	if err != nil {
		return nil, err
	}
	if head.FamilyID == "" || head.Relation != registry.RelationHead {
		return nil, protocol.NewError(protocol.CodeNotHouseholdHead)
	}
	for _, l := range lines {
		if l.person.FamilyID != head.FamilyID {
			return nil, protocol.NewError(protocol.CodeNotOneFamily)
		}
	}
	balance, ok, err := s.Store.AccountBalance(ctx, head.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, protocol.Wrap(protocol.CodeNoFamily, errors.New("household head has no personal account"))
	}
	if balance < total {
		return nil, protocol.NewError(protocol.CodeFamilyBalanceShort)
	}
	return head, nil
}

// requestHash is the SHA-256 of a request's business fields as this
// package encodes them: struct fields in a fixed order, so the same fields
// give the same hash whatever their order on the wire.
func requestHash(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// newOrderNumber returns a platform order number: a prefix, the Shanghai
// time to the second and 12 random digits; 27 characters, within the
// spec's 64.
func newOrderNumber(prefix string, now time.Time) (string, error) {
	_, raw, err := newSecret(8)
	if err != nil {
		return "", err
	}
	var n uint64
	for _, b := range raw[:8] {
		n = n<<8 | uint64(b)
	}
	return fmt.Sprintf("%s%s%012d", prefix, now.In(protocol.Shanghai()).Format("20060102150405"), n%1e12), nil
}
