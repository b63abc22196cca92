// Package api holds the business messages of the platform's nine functions:
// their function ids and the request and response types, with the spec's
// field names. Both sides use it: the platform's services decode requests
// into these types, and the SDK encodes them. It has no part in
// envelopes, HTTP or storage.
//
// Every field is a string on the wire, as the spec's tables type them;
// amounts are yuan with at most two decimals.
package api

// Function ids (chs_fjs_funid, or transType in the hsa profile).
const (
	FunAuthPage     = "CI00.01.00.01" // 获取医保在线服务授权页面表单
	FunUserInfo     = "CI00.01.00.02" // 根据授权令牌获取用户医保信息
	FunInsured      = "CI00.01.00.03" // 获取用户是否参保
	FunPayPage      = "CI00.02.00.01" // 获取医保支付划扣页面表单
	FunSettleResult = "CI00.02.00.02" // 获取医保结算结果
	FunRefund       = "CI00.02.00.03" // 医保支付退款
	FunQuery        = "CI00.02.00.04" // 单笔结算单查询
	FunReconDetail  = "CI00.02.00.08" // 明细对账
	FunReconTotal   = "CI00.02.00.09" // 总对账
	// FunNotify is the function id of the payment-result callback the
	// platform sends to the third party's notify_url.
	FunNotify = "CI00.02.00.NOTIFY"
)

// Functions lists the callable function ids in the spec's order.
var Functions = []string{
	FunAuthPage, FunUserInfo, FunInsured,
	FunPayPage, FunSettleResult, FunRefund, FunQuery,
	FunReconDetail, FunReconTotal,
}
