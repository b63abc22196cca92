package registry

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"chsgate/internal/money"
	"chsgate/internal/store"
)

// WritePersons writes records as a person import file, one line each.
// ParsePersons reads valid records back unchanged, except that Line
// becomes each record's position in the file. Records are written as they
// are, without validation. Empty phone, company_name and family_id are
// left out, acct_balance is written only when HasAccount is true, and
// hser_rlts only with a family_id.
func WritePersons(w io.Writer, records []store.PersonRecord) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // keep "&" and "<" in company names readable
	for i := range records {
		if err := enc.Encode(newPersonLine(&records[i])); err != nil {
			return fmt.Errorf("write person %d: %w", i+1, err)
		}
	}
	return bw.Flush()
}

// personLine is a person line as written. Its field order is the order of
// personFields.
type personLine struct {
	Name        string `json:"name"`
	IDCard      string `json:"idcard"`
	CertType    string `json:"cert_type"`
	Phone       string `json:"phone,omitempty"`
	Region      string `json:"region"`
	InsuType    string `json:"insutype"`
	InsuStatus  string `json:"insu_stas"`
	CompanyName string `json:"company_name,omitempty"`
	Balance     string `json:"acct_balance,omitempty"`
	FamilyID    string `json:"family_id,omitempty"`
	Relation    string `json:"hser_rlts,omitempty"`
}

func newPersonLine(rec *store.PersonRecord) personLine {
	line := personLine{
		Name:        rec.Name,
		IDCard:      rec.IDCard,
		CertType:    rec.CertType,
		Phone:       rec.Phone,
		Region:      rec.Region,
		InsuType:    rec.InsuType,
		InsuStatus:  rec.InsuStatus,
		CompanyName: rec.CompanyName,
	}
	if rec.HasAccount {
		line.Balance = money.FormatFen(rec.Balance)
	}
	if rec.FamilyID != "" {
		line.FamilyID = rec.FamilyID
		line.Relation = rec.Relation
	}
	return line
}
