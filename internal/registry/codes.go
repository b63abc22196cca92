// Package registry holds the code tables of the insured-person registry,
// the rules for ID numbers, masking of personal data for logs, the parser of
// person import files, and a synthetic registry for the sandbox and tests.
package registry

// Code is one row of a code table: the code as sent on the wire and its
// Chinese name.
type Code struct {
	Code string
	Name string
}

// Table is a code table in a fixed order. Its rows cannot be changed from
// outside the package, so the tables are safe to share.
type Table struct {
	rows []Code
}

// Name returns the Chinese name of code, and false when code is not in
// the table.
func (t Table) Name(code string) (string, bool) {
	for _, row := range t.rows {
		if row.Code == code {
			return row.Name, true
		}
	}
	return "", false
}

// Contains reports whether code is in the table.
func (t Table) Contains(code string) bool {
	_, ok := t.Name(code)
	return ok
}

// Codes returns a copy of the table's rows in order.
func (t Table) Codes() []Code {
	return append([]Code(nil), t.rows...)
}

// Codes that the product's rules name.
const (
	CertTypeResidentID = "01" // 居民身份证（户口簿）: an 18-digit mainland ID number

	InsuTypeEmployee = "310" // 职工基本医疗保险: has a personal account
	InsuTypeResident = "390" // 城乡居民基本医疗保险: has no personal account

	InsuStatusNormal     = "1"
	InsuStatusSuspended  = "2"
	InsuStatusTerminated = "4"

	RelationHead = "0" // 户主: the household head of a family network
)

// CertTypes returns the certificate types of the interface spec's
// 证件类型表.
func CertTypes() Table { return certTypes }

var certTypes = Table{rows: []Code{
	{"01", "居民身份证（户口簿）"},
	{"02", "中国人民解放军军官证"},
	{"03", "中国人民武装警察警官证"},
	{"04", "香港特区护照/港澳居民来往内地通行证"},
	{"05", "澳门特区护照/港澳居民来往内地通行证"},
	{"06", "台湾居民来往大陆通行证"},
	{"07", "外国人永久居留证"},
	{"08", "外国人护照"},
	{"09", "残疾人证"},
	{"10", "军烈属证明"},
	{"11", "外国人就业证"},
	{"12", "外国专家证"},
	{"13", "外国人常驻记者证"},
	{"14", "台港澳人员就业证"},
	{"15", "回国（来华）定居专家证"},
	{"16", "中国护照"},
	{"17", "港澳台居民居住证"},
	{"9901", "暂住证"},
}}

// Regions returns the Fujian region codes (地市编码) of the interface spec:
// the nine prefecture-level cities in code order, then the Pingtan
// experimental zone, whose code 350128 is a county code under Fuzhou.
func Regions() Table { return regions }

var regions = Table{rows: []Code{
	{"350100", "福州市"},
	{"350200", "厦门市"},
	{"350300", "莆田市"},
	{"350400", "三明市"},
	{"350500", "泉州市"},
	{"350600", "漳州市"},
	{"350700", "南平市"},
	{"350800", "龙岩市"},
	{"350900", "宁德市"},
	{"350128", "平潭实验区"},
}}

// Relations returns the relationship codes of a family network (共济关系编码)
// of the interface spec, in numeric order. Each names the person's
// relationship to the household head.
func Relations() Table { return relations }

var relations = Table{rows: []Code{
	{"0", "户主"},
	{"1", "配偶"},
	{"2", "父亲"},
	{"3", "母亲"},
	{"4", "配偶父亲"},
	{"5", "配偶母亲"},
	{"6", "儿子"},
	{"7", "女儿"},
	{"8", "祖父"},
	{"9", "祖母"},
	{"10", "外祖父"},
	{"11", "外祖母"},
	{"12", "配偶祖父"},
	{"13", "配偶祖母"},
	{"14", "配偶外祖父"},
	{"15", "配偶外祖母"},
	{"16", "孙子"},
	{"17", "孙女"},
	{"18", "外孙子"},
	{"19", "外孙女"},
	{"20", "女婿"},
	{"21", "儿媳"},
}}

// InsuTypes returns the insurance types (险种类型, insutype) a registry
// person can have, with the codes and names of the national
// healthcare-security code set, which the interface spec uses without
// listing them.
func InsuTypes() Table { return insuTypes }

var insuTypes = Table{rows: []Code{
	{InsuTypeEmployee, "职工基本医疗保险"},
	{InsuTypeResident, "城乡居民基本医疗保险"},
}}

// InsuStatuses returns the insured statuses (参保状态) a registry person can
// have. The platform sends them as treatment_type.
func InsuStatuses() Table { return insuStatuses }

var insuStatuses = Table{rows: []Code{
	{InsuStatusNormal, "正常参保"},
	{InsuStatusSuspended, "暂停参保"},
	{InsuStatusTerminated, "终止参保"},
}}
