package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/store"
	"chsgate/internal/verify"
	"chsgate/protocol"
)

// Errors of a page's ticket, for the authorization and the payment page.
var (
	ErrTicketNotFound = errors.New("page not found")
	ErrTicketExpired  = errors.New("page expired")
	ErrTicketUsed     = errors.New("page already completed")
)

// AuthTicketView is the content of the authorization page, with names and
// ID numbers masked, because the page may be seen over the person's
// shoulder.
type AuthTicketView struct {
	OrgCode   string
	Applicant PersonView
	// Others are the persons the applicant requests to authorize besides
	// themselves.
	Others    []PersonView
	ExpiresAt time.Time
	// FormTargets are the origins the page's form may end up at: its own,
	// and those of redirect_url and fail_url, where the browser goes next.
	FormTargets []string
}

// PersonView is one person on a page, masked.
type PersonView struct {
	Name     string // masked
	IDCard   string // masked
	CertType string // the cert type's Chinese name
	Relation string // the relationship's Chinese name; empty for the applicant
}

// ticketRequest loads a usable ticket and its request.
func (s *Services) ticketRequest(ctx context.Context, ticket string) (*store.AuthTicket, *api.AuthPageRequest, error) {
	t, err := s.Store.AuthTicket(ctx, hashSecret(ticket))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrTicketNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if !t.UsedAt.IsZero() {
		return nil, nil, ErrTicketUsed
	}
	if !s.now().Before(t.ExpiresAt) {
		return nil, nil, ErrTicketExpired
	}
	var req api.AuthPageRequest
	if err := json.Unmarshal(t.Request, &req); err != nil {
		return nil, nil, fmt.Errorf("ticket request is not JSON: %w", err)
	}
	return t, &req, nil
}

// AuthTicket returns the view of an open authorization page. Opening the
// page does not use the ticket up, because link previews fetch it too.
func (s *Services) AuthTicket(ctx context.Context, ticket string) (*AuthTicketView, error) {
	t, req, err := s.ticketRequest(ctx, ticket)
	if err != nil {
		return nil, err
	}
	view := &AuthTicketView{
		OrgCode:     t.OrgCode,
		Applicant:   personView(req.Name, req.IDCard, req.CertType, ""),
		ExpiresAt:   t.ExpiresAt,
		FormTargets: origins(req.RedirectURL, req.FailURL),
	}
	for _, p := range otherPersons(req) {
		view.Others = append(view.Others, personView(p.Name, p.IDCard, p.CertType, p.Relation))
	}
	return view, nil
}

func personView(name, idcard, certType, relation string) PersonView {
	v := PersonView{Name: registry.MaskName(name), IDCard: registry.MaskIDCard(idcard)}
	v.CertType, _ = registry.CertTypes().Name(certType)
	if relation != "" {
		v.Relation, _ = registry.Relations().Name(relation)
	}
	return v
}

// CompleteAuth ends an authorization page: it verifies the applicant's
// identity and face with v, using the evidence the page collected, and
// returns the address to send the browser to.
//
// On success it runs the eligibility checks, issues the auth code (which
// supersedes the applicant's older code for the org) and uses the ticket
// up; the address is redirect_url with authcode. When verification or
// eligibility fails the address is fail_url with code and message, and the
// ticket stays open until it expires, so the person may try again. An error
// means no address: the ticket is unusable (ErrTicket...), or the verifier
// could not run (verify.ErrNotConfigured and others), and the page says so.
func (s *Services) CompleteAuth(ctx context.Context, ticket string, v verify.Verifier, evidence map[string]string) (string, error) {
	t, req, err := s.ticketRequest(ctx, ticket)
	if err != nil {
		return "", err
	}
	subject := verify.Subject{Name: req.Name, IDCard: req.IDCard, CertType: req.CertType}
	var failed *verify.FailedError
	switch err := v.Verify(ctx, subject, evidence); {
	case errors.As(err, &failed):
		s.logger().InfoContext(ctx, "identity verification failed", "appid", t.AppID, "applicant", registry.MaskIDCard(req.IDCard), "reason", failed.Reason)
		return failureRedirect(req.RedirectURL, req.FailURL, protocol.CodeAuthFailedOther, protocol.FormatMessage(protocol.CodeAuthFailedOther)), nil
	case err != nil:
		return "", err
	}

	applicant, err := s.Store.PersonByIDCard(ctx, req.IDCard)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return failureRedirect(req.RedirectURL, req.FailURL, protocol.CodeNotInsured, protocol.FormatMessage(protocol.CodeNotInsured)), nil
	case err != nil:
		return "", err
	case applicant.Name != req.Name || applicant.InsuStatus != registry.InsuStatusNormal:
		return failureRedirect(req.RedirectURL, req.FailURL, protocol.CodeNotInsured, protocol.FormatMessage(protocol.CodeNotInsured)), nil
	}

	now := s.now()
	auth := &store.Authorization{
		AppID: t.AppID, OrgCode: t.OrgCode,
		ApplicantCertType: req.CertType, ApplicantIDCard: req.IDCard,
		CreatedAt: now, ExpiresAt: now.Add(AuthCodeTTL),
		Persons: []store.AuthorizedPerson{{
			PersonID: applicant.ID, Name: req.Name, IDCard: req.IDCard, CertType: req.CertType,
			Applicant: true, Authorized: true,
		}},
	}
	var family map[string]bool
	if others := otherPersons(req); len(others) > 0 {
		members, err := s.Store.FamilyMembers(ctx, applicant.FamilyID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		family = make(map[string]bool, len(members))
		for _, m := range members {
			family[m.IDCard] = true
		}
		for _, p := range others {
			auth.Persons = append(auth.Persons, s.eligibility(ctx, p, family))
		}
	}

	code, hash, err := newSecret(32)
	if err != nil {
		return "", err
	}
	auth.CodeHash = hash
	err = s.Store.CompleteAuthorization(ctx, hashSecret(ticket), auth, now)
	if errors.Is(err, store.ErrTicketUsed) {
		return "", ErrTicketUsed
	}
	if err != nil {
		return "", err
	}
	s.logger().InfoContext(ctx, "authorization issued", "appid", t.AppID, "applicant", registry.MaskIDCard(req.IDCard), "persons", len(auth.Persons))
	return withQuery(req.RedirectURL, "authcode", code), nil
}

// eligibility decides whether one non-applicant person is authorized: known
// to the registry under that name, insured normally, and in the
// applicant's family network.
func (s *Services) eligibility(ctx context.Context, p api.AuthPerson, family map[string]bool) store.AuthorizedPerson {
	out := store.AuthorizedPerson{Name: p.Name, IDCard: p.IDCard, CertType: p.CertType}
	known, err := s.Store.PersonByIDCard(ctx, p.IDCard)
	if err != nil || known.Name != p.Name {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.logger().ErrorContext(ctx, "registry lookup failed", "person", registry.MaskIDCard(p.IDCard), "error", err)
		}
		out.FailCode = protocol.CodeNotInsured
		out.FailMsg = protocol.FormatMessage(out.FailCode)
		return out
	}
	out.PersonID = known.ID
	switch {
	case !family[known.IDCard]:
		out.FailCode = protocol.CodeOutsideFamily
		out.FailMsg = protocol.FormatMessage(out.FailCode, s.familyReference(known.FamilyID))
	case known.InsuStatus != registry.InsuStatusNormal:
		out.FailCode = protocol.CodeNotInsured
		out.FailMsg = protocol.FormatMessage(out.FailCode)
	default:
		out.Authorized = true
	}
	return out
}

// UserInfo handles CI00.01.00.02 (根据授权令牌获取用户医保信息): the applicant
// and every person of the authorization, with their insurance and whether
// they were authorized. It may be called any number of times while the code
// is valid; once the code has paid an order it serves refunds only (20002).
func (s *Services) UserInfo(ctx context.Context, ch *channel.Channel, req *api.UserInfoRequest) (*api.UserInfoResponse, error) {
	auth, err := s.authorization(ctx, ch, req.AuthCode)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(auth.ExpiresAt) || !auth.SupersededAt.IsZero() || !auth.PaidAt.IsZero() {
		return nil, protocol.NewError(protocol.CodeAuthExpired)
	}
	pub, err := channelUserIDKey(ch)
	if err != nil {
		return nil, err
	}

	resp := &api.UserInfoResponse{UserList: make([]api.UserInfo, 0, len(auth.Persons))}
	for _, p := range auth.Persons {
		info := api.UserInfo{AuthPsn: "0", IsSuccess: "0"}
		if p.Applicant {
			info.AuthPsn = "1"
		}
		if p.Authorized {
			info.IsSuccess = "1"
		} else {
			info.FailCode = strconv.Itoa(p.FailCode)
			info.FailMsg = p.FailMsg
		}
		// The registry's current insurance, not the one at authorization
		// time: a status can change within the 90 days.
		if known, err := s.Store.PersonByIDCard(ctx, p.IDCard); err == nil && known.Name == p.Name {
			info.TreatmentType = known.InsuStatus
			info.InsuranceType = known.InsuType
			info.InsuranceTypeName, _ = registry.InsuTypes().Name(known.InsuType)
			if p.Applicant {
				info.IsFamily = "0"
				if known.FamilyID != "" {
					info.IsFamily = "1"
				}
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		uid := protocol.UserID{CertType: p.CertType, IDCard: p.IDCard, Name: p.Name}
		if info.UserID, err = protocol.EncryptUserID(pub, uid); err != nil {
			return nil, err
		}
		resp.UserList = append(resp.UserList, info)
	}
	return resp, nil
}

// authorization returns the channel's authorization for an auth code:
// 20013 when the code is missing, 20033 when it is unknown or belongs to
// another channel. Expiry and use are the caller's to judge, as they differ
// between payments and refunds.
func (s *Services) authorization(ctx context.Context, ch *channel.Channel, code string) (*store.Authorization, error) {
	if code == "" {
		return nil, protocol.NewError(protocol.CodeAuthCodeEmpty)
	}
	auth, err := s.Store.Authorization(ctx, hashSecret(code))
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeAuthCodeInvalid)
	}
	if err != nil {
		return nil, err
	}
	if auth.AppID != ch.AppID || auth.OrgCode != ch.OrgCode {
		return nil, protocol.Wrap(protocol.CodeAuthCodeInvalid, errors.New("auth code of another channel"))
	}
	return auth, nil
}
