package service

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strconv"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// maxInsuredPersons bounds one CI00.01.00.03 request; each person costs an
// SM2 encryption.
const maxInsuredPersons = 100

// Insured handles CI00.01.00.03 (获取用户是否参保): for each person in the
// request, whether they are insured normally in the region asked about, or,
// without a region, in the region where the registry has them.
//
// A person missing from the registry, or listed under another name, gets
// is_insu "0" rather than an error, so the response reveals nothing about an
// ID number the caller cannot name. A cert type that contradicts the
// registry's is an error (20027) for the whole request.
func (s *Services) Insured(ctx context.Context, ch *channel.Channel, req *api.InsuredRequest) (*api.InsuredResponse, error) {
	if len(req.UserList) == 0 {
		return nil, protocol.NewError(protocol.CodePaylistEmpty)
	}
	if len(req.UserList) > maxInsuredPersons {
		return nil, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("%d persons, at most %d", len(req.UserList), maxInsuredPersons), "userlist")
	}
	pub, err := channelUserIDKey(ch)
	if err != nil {
		return nil, err
	}

	resp := &api.InsuredResponse{List: make([]api.InsuredResult, 0, len(req.UserList))}
	for i, person := range req.UserList {
		field := func(name string) string { return "userlist[" + strconv.Itoa(i) + "]." + name }
		switch {
		case person.CertType == "":
			return nil, protocol.NewError(protocol.CodeCertTypeEmpty)
		case person.Name == "":
			return nil, protocol.NewError(protocol.CodeNameEmpty)
		case person.IDCard == "":
			return nil, protocol.NewError(protocol.CodeIDNumberEmpty)
		}
		if !registry.CertTypes().Contains(person.CertType) {
			return nil, protocol.NewError(protocol.CodeBadField, field("cert_type"))
		}
		idcard, err := registry.ValidateIDCard(person.CertType, person.IDCard)
		if err != nil {
			return nil, protocol.Wrap(protocol.CodeBadField, err, field("idcard"))
		}
		if person.Region != "" && !registry.Regions().Contains(person.Region) {
			return nil, protocol.NewError(protocol.CodeBadField, field("region"))
		}

		result := api.InsuredResult{Region: person.Region, IsInsu: "0"}
		known, err := s.Store.PersonByIDCard(ctx, idcard)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		case known.CertType != person.CertType:
			return nil, protocol.NewError(protocol.CodeCertTypeMismatch)
		case known.Name == person.Name:
			if result.Region == "" {
				result.Region = known.Region
			}
			result.InsuTypeName, _ = registry.InsuTypes().Name(known.InsuType)
			if known.InsuStatus == registry.InsuStatusNormal && result.Region == known.Region {
				result.IsInsu = "1"
				if known.InsuType == registry.InsuTypeResident {
					result.CompanyName = known.CompanyName
				}
			}
		}

		uid := protocol.UserID{CertType: person.CertType, IDCard: idcard, Name: person.Name}
		if result.UserID, err = protocol.EncryptUserID(pub, uid); err != nil {
			return nil, err
		}
		resp.List = append(resp.List, result)
	}
	return resp, nil
}

// channelUserIDKey returns the channel's SM2 public key, which user_id is
// encrypted to.
func channelUserIDKey(ch *channel.Channel) (*ecdsa.PublicKey, error) {
	if ch.SM2PublicKey == "" {
		return nil, fmt.Errorf("channel %s has no SM2 public key to encrypt user_id to: set one with channel add --sm2-public-key", ch.AppID)
	}
	pub, err := protocol.ParseSM2PublicKey(ch.SM2PublicKey)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", ch.AppID, err)
	}
	return pub, nil
}
