package api

// InsuredRequest is CI00.01.00.03 (获取用户是否参保): is each listed person
// insured in Fujian?
type InsuredRequest struct {
	UserList []InsuredPerson `json:"userlist"`
}

// InsuredPerson is one person in the request. Region is optional: without
// it the result is for the region where the person is insured.
type InsuredPerson struct {
	Name     string `json:"name"`
	IDCard   string `json:"idcard"`
	CertType string `json:"cert_type"`
	Region   string `json:"region,omitempty"`
}

// InsuredResponse is the response of CI00.01.00.03: one entry per person
// and region in the request.
type InsuredResponse struct {
	List []InsuredResult `json:"list"`
}

// InsuredResult is whether one person is insured in one region.
type InsuredResult struct {
	Region string `json:"region"`
	IsInsu string `json:"is_insu"` // "1" insured normally, "0" otherwise
	// UserID is {"cert_type","idcard","name"} encrypted with SM2 (C1C3C2,
	// hex) to the channel's public key.
	UserID       string `json:"user_id"`
	CompanyName  string `json:"companyName,omitempty"` // residents only
	InsuTypeName string `json:"insutypeName"`
}
