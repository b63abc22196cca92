package sdk

import (
	"context"
	"errors"
	"fmt"

	"chsgate/api"
	"chsgate/protocol"
)

// Insured calls CI00.01.00.03 (获取用户是否参保): whether each listed person is
// insured in Fujian. The response has one entry per person and region. A
// person who is unknown or whose insurance is suspended gets is_insu "0",
// not an error. Errors are those of Call.
func (c *Client) Insured(ctx context.Context, request *api.InsuredRequest) (*api.InsuredResponse, error) {
	return callTyped[api.InsuredResponse](ctx, c, api.FunInsured, request)
}

// AuthPage calls CI00.01.00.01 (获取医保在线服务授权页面表单) and returns the
// address of the authorization page to open for the applicant. When the
// person completes it, the browser goes to redirect_url with authcode.
func (c *Client) AuthPage(ctx context.Context, request *api.AuthPageRequest) (*api.AuthPageResponse, error) {
	return callTyped[api.AuthPageResponse](ctx, c, api.FunAuthPage, request)
}

// UserInfo calls CI00.01.00.02 (根据授权令牌获取用户医保信息): who an auth code
// covers and whether each person was authorized.
func (c *Client) UserInfo(ctx context.Context, request *api.UserInfoRequest) (*api.UserInfoResponse, error) {
	return callTyped[api.UserInfoResponse](ctx, c, api.FunUserInfo, request)
}

// PayPage calls CI00.02.00.01 (获取医保支付划扣页面表单) and returns the
// address of the payment page where the person confirms the debit. The
// same hi_pay_no with the same fields returns the same answer, so a call
// whose outcome is unknown may be repeated as it was.
func (c *Client) PayPage(ctx context.Context, request *api.PayPageRequest) (*api.PayPageResponse, error) {
	return callTyped[api.PayPageResponse](ctx, c, api.FunPayPage, request)
}

// SettleResult calls CI00.02.00.02 (获取医保结算结果) with the code the
// payment page sent the browser back with.
func (c *Client) SettleResult(ctx context.Context, request *api.SettleResultRequest) (*api.SettleResultResponse, error) {
	return callTyped[api.SettleResultResponse](ctx, c, api.FunSettleResult, request)
}

// Refund calls CI00.02.00.03 (医保支付退款). hi_refund_no makes it
// idempotent like hi_pay_no.
func (c *Client) Refund(ctx context.Context, request *api.RefundRequest) (*api.RefundResponse, error) {
	return callTyped[api.RefundResponse](ctx, c, api.FunRefund, request)
}

// Query calls CI00.02.00.04 (单笔结算单查询): one order by pay_no or
// hi_pay_no, with its refunds.
func (c *Client) Query(ctx context.Context, request *api.QueryRequest) (*api.QueryResponse, error) {
	return callTyped[api.QueryResponse](ctx, c, api.FunQuery, request)
}

// ReconDetail calls CI00.02.00.08 (明细对账): it sends the institution's
// settlement records of a date range and returns a result per record of
// either side, the platform's extra records included as stmtRslt "101".
// Refund records carry negative amounts. In the fjs profile the request is
// posted to /gateway/CI00.02.00.08, where the platform accepts a larger
// body than on /gateway (see WithoutAliasRouting). More records than the
// platform's maximum get the business error 20106.
func (c *Client) ReconDetail(ctx context.Context, request *api.ReconDetailRequest) (*api.ReconDetailResponse, error) {
	return callTyped[api.ReconDetailResponse](ctx, c, api.FunReconDetail, request)
}

// ReconTotal calls CI00.02.00.09 (总对账): it sends the institution's sums
// and record count of a date range, refunds counted negative, and returns
// stmtRslt "0" when the platform's agree, or "1" with a memo that names
// each differing figure.
func (c *Client) ReconTotal(ctx context.Context, request *api.ReconTotalRequest) (*api.ReconTotalResponse, error) {
	return callTyped[api.ReconTotalResponse](ctx, c, api.FunReconTotal, request)
}

// callTyped calls funID with a typed request and decodes a typed response.
func callTyped[Resp any, Req any](ctx context.Context, c *Client, funID string, request *Req) (*Resp, error) {
	if request == nil {
		return nil, fmt.Errorf("%s request is nil", funID)
	}
	var response Resp
	if err := c.Call(ctx, funID, request, &response); err != nil {
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
