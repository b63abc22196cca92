package api

// AuthPageRequest is CI00.01.00.01 (获取医保在线服务授权页面表单): the
// applicant requests to authorize themselves and the persons in PayList.
type AuthPageRequest struct {
	AppID     string `json:"appid"`
	ServiceID string `json:"service_id"`
	OrgCode   string `json:"org_code"`
	// UserID is the third party's own identifier of its user (惠闽保的用户唯一码).
	UserID      string       `json:"user_id"`
	Name        string       `json:"name"`
	IDCard      string       `json:"idcard"`
	CertType    string       `json:"cert_type"`
	Phone       string       `json:"phone"`
	RedirectURL string       `json:"redirect_url"`
	FailURL     string       `json:"fail_url,omitempty"`
	URLType     string       `json:"url_type"` // 1 WeChat H5 … 8 e福州
	PayList     []AuthPerson `json:"paylist"`
}

// AuthPerson is one person the applicant requests to authorize.
type AuthPerson struct {
	Name     string `json:"name"`
	IDCard   string `json:"idcard"`
	CertType string `json:"cert_type"`
	Phone    string `json:"phone,omitempty"`
	// Relation is hser_rlts: the person's relationship to the household
	// head, from the relationship code table.
	Relation string `json:"hser_rlts"`
}

// AuthPageResponse carries the address of the authorization page.
type AuthPageResponse struct {
	LinkURL string `json:"link_url"`
}

// UserInfoRequest is CI00.01.00.02 (根据授权令牌获取用户医保信息).
type UserInfoRequest struct {
	AuthCode string `json:"auth_code"`
}

// UserInfoResponse lists the applicant and every person of the
// authorization, each once.
type UserInfoResponse struct {
	UserList []UserInfo `json:"userlist"`
}

// UserInfo is the insurance information of one authorized person, or why
// the person was not authorized.
type UserInfo struct {
	TreatmentType     string `json:"treatment_type"` // insured status, insu_stas
	InsuranceType     string `json:"insurance_type"` // insutype: 310 or 390
	InsuranceTypeName string `json:"insurance_type_name"`
	// IsFamily is "1" when the applicant is in a family network; it is set
	// for the applicant only.
	IsFamily  string `json:"is_family,omitempty"`
	AuthPsn   string `json:"auth_psn"`  // "1" the applicant, "0" another person
	IsSuccess string `json:"isSuccess"` // "1" authorized, "0" not
	FailMsg   string `json:"failMsg,omitempty"`
	FailCode  string `json:"failCode,omitempty"`
	UserID    string `json:"user_id"`
}
