package protocol

// Result codes. Codes 10001–10099 are protocol faults, sent unsigned, and
// 20001–20106 and 50101 are business results, sent signed. The 200xx texts
// are the spec's own wording. The 100xx and 201xx texts fill gaps the spec
// leaves.
const (
	CodeOK = 0

	CodeMalformed       = 10001 // body is not UTF-8 JSON, or a protocol field has the wrong type
	CodeMissingField    = 10002 // a protocol field is missing; 【】 names it
	CodeUnknownChannel  = 10003 // unknown or disabled appid
	CodeAuthFailed      = 10004 // wrong appsecret, unknown or expired token, anonymous call from outside
	CodeBadTimestamp    = 10005 // timestamp unparsable or outside the window
	CodeBadSignature    = 10006 // signature wrong, malformed, or of another sign type
	CodeDecryptFailed   = 10007 // bad encoding, bad padding, wrong key, or not JSON after decryption
	CodeReplay          = 10008 // same sign string seen inside the window
	CodeTooLarge        = 10009 // body over the limit
	CodeUnknownFunction = 10010 // unknown function id, or an alias path that differs from the body's
	CodeFunctionDenied  = 10011 // function not allowed for the channel
	CodeCleartext       = 10012 // business fields in clear on an encrypting channel

	CodeSettleCodeEmpty      = 20001
	CodeAuthExpired          = 20002
	CodePaylistEmpty         = 20004
	CodeServiceIDUnknown     = 20005
	CodeAppIDEmpty           = 20006
	CodeServiceIDEmpty       = 20007
	CodeOrgCodeEmpty         = 20008
	CodeHiPayNoEmpty         = 20009
	CodeSumAmountEmpty       = 20010
	CodePayNoBothEmpty       = 20011
	CodeAuthCodeEmpty        = 20013
	CodeOrderNotFound        = 20014
	CodeRefundRepeated       = 20015
	CodeTotalMismatch        = 20016
	CodeNotOneFamily         = 20017
	CodeNoFamily             = 20018
	CodeFamilyBalanceShort   = 20019
	CodePaymentFailed        = 20020
	CodeNotHouseholdHead     = 20021
	CodeAuthFailedOther      = 20022
	CodeOutsideFamily        = 20023
	CodeOrderInsertFailed    = 20024
	CodePersonalBalanceShort = 20025
	CodeRefundPostFailed     = 20026
	CodeCertTypeMismatch     = 20027
	CodeRefundSinglePerson   = 20028
	CodeCertTypeEmpty        = 20029
	CodeNameEmpty            = 20030
	CodeIDNumberEmpty        = 20031
	CodeNotAuthorized        = 20032
	CodeAuthCodeInvalid      = 20033
	CodeNotInsured           = 20034
	CodeBadField             = 20100
	CodeIdempotencyConflict  = 20101
	CodeRefundTooLarge       = 20102
	CodeHostNotAllowed       = 20103
	CodeChannelMismatch      = 20104
	CodeOrderStateConflict   = 20105
	CodeTooManyRecords       = 20106

	CodeInternal = 50101
)

// MessageOK is the message of every successful response.
const MessageOK = "成功"

var messages = map[int]string{
	CodeOK: MessageOK,

	CodeMalformed:       "请求报文格式错误",
	CodeMissingField:    "缺少协议参数【】",
	CodeUnknownChannel:  "渠道不存在或已停用",
	CodeAuthFailed:      "渠道认证失败",
	CodeBadTimestamp:    "请求时间戳无效或已过期",
	CodeBadSignature:    "签名校验失败",
	CodeDecryptFailed:   "报文解密失败",
	CodeReplay:          "重复请求",
	CodeTooLarge:        "请求报文过大",
	CodeUnknownFunction: "服务编号不存在",
	CodeFunctionDenied:  "渠道无权调用该服务",
	CodeCleartext:       "渠道要求报文加密",

	CodeSettleCodeEmpty:      "结算 code 不能为空",
	CodeAuthExpired:          "电子凭证授权已过期，请重新授权",
	CodePaylistEmpty:         "被投保人列表不能为空",
	CodeServiceIDUnknown:     "服务 id 不存在",
	CodeAppIDEmpty:           "应用编号不能为空",
	CodeServiceIDEmpty:       "服务编号不能为空",
	CodeOrgCodeEmpty:         "第三方平台编号不能为空",
	CodeHiPayNoEmpty:         "第三方平台支付流水号不能为空",
	CodeSumAmountEmpty:       "医保支付总金额不能为空",
	CodePayNoBothEmpty:       "医保支付流水号和第三方平台支付流水号不能同时为空",
	CodeAuthCodeEmpty:        "code 不能为空",
	CodeOrderNotFound:        "订单【】不存在",
	CodeRefundRepeated:       "订单【】人员【】不能重复冲销",
	CodeTotalMismatch:        "总价格与支付信息价格不一致",
	CodeNotOneFamily:         "支付人员信息不是在一个家庭网",
	CodeNoFamily:             "未查询到家庭共济信息",
	CodeFamilyBalanceShort:   "共济余额不足",
	CodePaymentFailed:        "其他支付异常",
	CodeNotHouseholdHead:     "非户主不能邀请临时惠闽保成员",
	CodeAuthFailedOther:      "其他授权异常",
	CodeOutsideFamily:        "此用户与户主不在同一个家庭网,此用户家庭网 id 为【】",
	CodeOrderInsertFailed:    "订单数据插入异常",
	CodePersonalBalanceShort: "个账余额不足",
	CodeRefundPostFailed:     "个账冲销失败",
	CodeCertTypeMismatch:     "证件类型不一致",
	CodeRefundSinglePerson:   "个账支付退款只允许单人退款",
	CodeCertTypeEmpty:        "证件类型不能为空",
	CodeNameEmpty:            "姓名不能为空",
	CodeIDNumberEmpty:        "证件号码不能为空",
	CodeNotAuthorized:        "授权异常",
	CodeAuthCodeInvalid:      "授权码错误",
	CodeNotInsured:           "未查询到参保信息",
	CodeBadField:             "字段【】格式错误",
	CodeIdempotencyConflict:  "流水号【】已用于内容不同的请求",
	CodeRefundTooLarge:       "退款金额超过可退金额",
	CodeHostNotAllowed:       "回调地址不在渠道白名单",
	CodeChannelMismatch:      "应用编号或第三方平台编号与渠道不符",
	CodeOrderStateConflict:   "订单状态不允许此操作",
	CodeTooManyRecords:       "对账记录数超过上限",

	CodeInternal: "系统服务异常",
}

// IsProtocolCode reports whether code is a protocol fault (10001–10099),
// whose response is unsigned and unencrypted.
func IsProtocolCode(code int) bool { return code >= 10001 && code <= 10099 }
