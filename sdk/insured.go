package sdk

import (
	"context"
	"errors"

	"chsgate/api"
	"chsgate/protocol"
)

// Insured calls CI00.01.00.03 (获取用户是否参保): whether each listed person is
// insured in Fujian. The response has one entry per person and region. A
// person who is unknown or whose insurance is suspended gets is_insu "0",
// not an error. Errors are those of Call.
func (c *Client) Insured(ctx context.Context, request *api.InsuredRequest) (*api.InsuredResponse, error) {
	if request == nil {
		return nil, errors.New("insured request is nil")
	}
	var response api.InsuredResponse
	if err := c.Call(ctx, api.FunInsured, request, &response); err != nil {
		return nil, err
	}
	return &response, nil
}

// DecryptUserID decrypts a user_id from a response with the channel's SM2
// private key, set with WithSM2PrivateKey.
func (c *Client) DecryptUserID(userID string) (protocol.UserID, error) {
	if c.sm2Keys.SM2PrivateKey == nil {
		return protocol.UserID{}, errors.New("cannot decrypt user_id: no SM2 private key is set. Pass the channel's key with WithSM2PrivateKey")
	}
	return protocol.DecryptUserID(c.sm2Keys.SM2PrivateKey, userID)
}
