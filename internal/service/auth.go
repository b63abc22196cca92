package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/store"
	"chsgate/protocol"
)

const (
	// AuthTicketTTL is how long an authorization page stays open.
	AuthTicketTTL = 15 * time.Minute
	// AuthCodeTTL is how long an auth code stays valid for payments.
	AuthCodeTTL = 90 * 24 * time.Hour
	// maxAuthPersons bounds the paylist of one authorization; a family
	// network has a handful of persons.
	maxAuthPersons = 20
	// miniProgramPath is the WeChat mini program page of url_type 2.
	miniProgramPath = "pages/healthcareOnlineServiceAuth/index"
)

// AuthPage handles CI00.01.00.01 (获取医保在线服务授权页面表单): it validates
// the applicant and the persons to authorize, stores a ticket and returns
// the page's address. The family-network checks run when the page is
// completed, because only then has the person proved who they are.
func (s *Services) AuthPage(ctx context.Context, ch *channel.Channel, req *api.AuthPageRequest) (*api.AuthPageResponse, error) {
	if err := checkChannelFields(ch, req.AppID, req.ServiceID, req.OrgCode); err != nil {
		return nil, err
	}
	applicant := api.AuthPerson{Name: req.Name, IDCard: req.IDCard, CertType: req.CertType, Phone: req.Phone}
	if err := checkIdentity(applicant.CertType, applicant.Name, applicant.IDCard, ""); err != nil {
		return nil, err
	}
	idcard, _ := registry.ValidateIDCard(applicant.CertType, applicant.IDCard)
	req.IDCard = idcard
	if req.UserID == "" {
		return nil, protocol.NewError(protocol.CodeBadField, "user_id")
	}
	if !validPhone(req.Phone) {
		return nil, protocol.NewError(protocol.CodeBadField, "phone")
	}
	if n, err := strconv.Atoi(req.URLType); err != nil || n < 1 || n > 8 || req.URLType != strconv.Itoa(n) {
		return nil, protocol.NewError(protocol.CodeBadField, "url_type")
	}
	if req.RedirectURL == "" {
		return nil, protocol.NewError(protocol.CodeBadField, "redirect_url")
	}
	if err := checkCallbackURL(ch, "redirect_url", req.RedirectURL); err != nil {
		return nil, err
	}
	if req.FailURL != "" {
		if err := checkCallbackURL(ch, "fail_url", req.FailURL); err != nil {
			return nil, err
		}
	}
	if len(req.PayList) > maxAuthPersons {
		return nil, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("%d persons, at most %d", len(req.PayList), maxAuthPersons), "paylist")
	}
	for i := range req.PayList {
		p := &req.PayList[i]
		field := "paylist[" + strconv.Itoa(i) + "]."
		if err := checkIdentity(p.CertType, p.Name, p.IDCard, field); err != nil {
			return nil, err
		}
		p.IDCard, _ = registry.ValidateIDCard(p.CertType, p.IDCard)
		if !registry.Relations().Contains(p.Relation) {
			return nil, protocol.NewError(protocol.CodeBadField, field+"hser_rlts")
		}
		if p.Phone != "" && !validPhone(p.Phone) {
			return nil, protocol.NewError(protocol.CodeBadField, field+"phone")
		}
	}

	known, err := s.Store.PersonByIDCard(ctx, idcard)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, protocol.NewError(protocol.CodeNotInsured)
	case err != nil:
		return nil, err
	case known.CertType != req.CertType:
		return nil, protocol.NewError(protocol.CodeCertTypeMismatch)
	case known.Name != req.Name:
		return nil, protocol.Wrap(protocol.CodeNotInsured, errors.New("applicant's name differs from the registry's"))
	}
	others := otherPersons(req)
	if len(others) > 0 && (known.FamilyID == "" || known.Relation != registry.RelationHead) {
		return nil, protocol.NewError(protocol.CodeNotHouseholdHead)
	}
	for _, p := range others {
		other, err := s.Store.PersonByIDCard(ctx, p.IDCard)
		if err == nil && other.CertType != p.CertType {
			return nil, protocol.NewError(protocol.CodeCertTypeMismatch)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}

	ticket, hash, err := newSecret(16)
	if err != nil {
		return nil, err
	}
	request, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.Store.CreateAuthTicket(ctx, &store.AuthTicket{
		Hash: hash, AppID: ch.AppID, OrgCode: ch.OrgCode, Request: request,
		CreatedAt: now, ExpiresAt: now.Add(AuthTicketTTL),
	}); err != nil {
		return nil, err
	}
	if req.URLType == "2" {
		return &api.AuthPageResponse{LinkURL: miniProgramPath + "?ticket=" + ticket}, nil
	}
	return &api.AuthPageResponse{LinkURL: s.PublicURL + "/h5/auth/" + ticket}, nil
}

// checkChannelFields checks the appid, service_id and org_code a request
// repeats against the calling channel.
func checkChannelFields(ch *channel.Channel, appid, serviceID, orgCode string) error {
	switch {
	case appid == "":
		return protocol.NewError(protocol.CodeAppIDEmpty)
	case serviceID == "":
		return protocol.NewError(protocol.CodeServiceIDEmpty)
	case orgCode == "":
		return protocol.NewError(protocol.CodeOrgCodeEmpty)
	case appid != ch.AppID || orgCode != ch.OrgCode:
		return protocol.NewError(protocol.CodeChannelMismatch)
	case serviceID != ch.ServiceID:
		return protocol.NewError(protocol.CodeServiceIDUnknown)
	}
	return nil
}

// checkIdentity checks that a person's cert type, name and ID number are
// present, in the spec's order of codes, and well formed. prefix names the
// person's place in the request for format errors, such as "paylist[1].".
func checkIdentity(certType, name, idcard, prefix string) error {
	switch {
	case certType == "":
		return protocol.NewError(protocol.CodeCertTypeEmpty)
	case name == "":
		return protocol.NewError(protocol.CodeNameEmpty)
	case idcard == "":
		return protocol.NewError(protocol.CodeIDNumberEmpty)
	}
	if !registry.CertTypes().Contains(certType) {
		return protocol.NewError(protocol.CodeBadField, prefix+"cert_type")
	}
	if _, err := registry.ValidateIDCard(certType, idcard); err != nil {
		return protocol.Wrap(protocol.CodeBadField, err, prefix+"idcard")
	}
	return nil
}

// validPhone accepts a mainland mobile number: 11 digits starting with 1.
func validPhone(phone string) bool {
	if len(phone) != 11 || phone[0] != '1' {
		return false
	}
	for i := 0; i < len(phone); i++ {
		if phone[i] < '0' || phone[i] > '9' {
			return false
		}
	}
	return true
}

// otherPersons returns the persons of the paylist other than the
// applicant, each once, in request order.
func otherPersons(req *api.AuthPageRequest) []api.AuthPerson {
	seen := map[string]bool{req.IDCard: true}
	var out []api.AuthPerson
	for _, p := range req.PayList {
		if seen[p.IDCard] {
			continue
		}
		seen[p.IDCard] = true
		out = append(out, p)
	}
	return out
}

// newSecret returns a random value of size bytes as base64url text, and
// the SHA-256 of that text, which is what the store keeps.
func newSecret(size int) (string, []byte, error) {
	raw := make([]byte, size)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	text := base64.RawURLEncoding.EncodeToString(raw)
	return text, hashSecret(text), nil
}

func hashSecret(text string) []byte {
	sum := sha256.Sum256([]byte(text))
	return sum[:]
}

// familyReference is the opaque reference to a family network that 20023
// shows: an HMAC of the network id, so the third party can tell two
// networks apart without learning the registry's ids.
func (s *Services) familyReference(familyID string) string {
	if familyID == "" {
		return "无"
	}
	mac := hmac.New(sha256.New, s.Secret)
	mac.Write([]byte("family network\x00" + familyID))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}
