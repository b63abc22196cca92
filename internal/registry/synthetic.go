package registry

import (
	"fmt"
	"math/rand/v2"
	"time"

	"chsgate/internal/store"
)

// MinSyntheticPersons is the minimum number of persons Synthetic returns.
const MinSyntheticPersons = 200

// syntheticToday is the date the synthetic registry is computed for. It is
// fixed, so the output does not depend on the clock, and in the past, so
// every birth date passes ValidateIDCard.
var syntheticToday = time.Date(2025, time.June, 30, 0, 0, 0, 0, time.UTC)

// syntheticStream is the second PCG seed word. Any constant works, and a
// fixed one keeps the output of a seed the same across releases.
const syntheticStream = 0x6368736761746531 // "chsgate1"

// Synthetic returns a synthetic registry of at least MinSyntheticPersons
// persons. The same seed always gives the same records, in the same order,
// with Line set to each record's position as WritePersons writes it.
//
// It covers all ten regions, family networks of 2 to 6 persons with one
// head each and relatives whose birth dates fit the relationship, persons
// without a family, both insurance types, and statuses 1, 2 and 4. The
// first family's head has a personal account and its second member has
// none, and the second family's head has less than 100 yuan, so payment
// tests can hit the mutual-aid and balance shortfall cases.
//
// No real person's data is used. The ID numbers are valid in form, so one
// may equal a real person's number by chance, but the names, phones and
// balances with it are random.
func Synthetic(seed int64) []store.PersonRecord {
	g := &generator{
		rng: rand.New(rand.NewPCG(uint64(seed), syntheticStream)),
		ids: make(map[string]bool),
	}
	for unit := 0; len(g.records) < MinSyntheticPersons; unit++ {
		region := syntheticRegions[g.rng.IntN(len(syntheticRegions))]
		if unit < len(syntheticRegions) {
			region = syntheticRegions[unit] // every region at least once
		}
		switch {
		case unit == 0:
			g.accountAndNoAccountFamily(region)
		case unit == 1:
			g.smallBalanceFamily(region)
		case unit == 2:
			g.single(region, InsuStatusSuspended)
		case unit == 3:
			g.single(region, InsuStatusTerminated)
		case g.rng.IntN(4) == 0:
			g.single(region, g.status())
		default:
			g.family(region, 2+g.rng.IntN(5))
		}
	}
	for i := range g.records {
		g.records[i].Line = i + 1
	}
	return g.records
}

// generator is the state of one Synthetic call.
type generator struct {
	rng      *rand.Rand
	records  []store.PersonRecord
	ids      map[string]bool // ID numbers handed out
	families int
}

// person is one synthetic person before it becomes a record.
type person struct {
	relation string
	male     bool
	surname  string
	birth    time.Time
}

// age returns the person's age in whole years on syntheticToday.
func (p person) age() int {
	years := syntheticToday.Year() - p.birth.Year()
	birthday := time.Date(syntheticToday.Year(), p.birth.Month(), p.birth.Day(), 0, 0, 0, 0, time.UTC)
	if syntheticToday.Before(birthday) {
		years--
	}
	return years
}

// single adds one person without a family, aged 18 to 80.
func (g *generator) single(region syntheticRegion, status string) {
	p := person{male: g.rng.IntN(2) == 0, surname: g.surname(), birth: g.birthAged(18, 80)}
	rec := g.record(region, p)
	rec.InsuStatus = status
	g.records = append(g.records, rec)
}

// accountAndNoAccountFamily adds a family whose head is an employee with a
// normal account and whose second member is a resident without one.
func (g *generator) accountAndNoAccountFamily(region syntheticRegion) {
	start := len(g.records)
	g.family(region, 3+g.rng.IntN(3))
	head := &g.records[start]
	head.InsuStatus = InsuStatusNormal
	g.makeEmployee(head, 500_000+g.rng.Int64N(1_500_001)) // 5,000 to 20,000 yuan
	member := &g.records[start+1]
	member.InsuStatus = InsuStatusNormal
	g.makeResident(member, region)
}

// smallBalanceFamily adds a family whose head is an employee with less
// than 100 yuan.
func (g *generator) smallBalanceFamily(region syntheticRegion) {
	start := len(g.records)
	g.family(region, 2+g.rng.IntN(3))
	head := &g.records[start]
	head.InsuStatus = InsuStatusNormal
	g.makeEmployee(head, 100+g.rng.Int64N(9_900)) // 1.00 to 99.99 yuan
}

// family adds a family network of size persons, head first. Young heads
// live with children and their own or their spouse's parents, older heads
// with adult children, a child's spouse and grandchildren.
func (g *generator) family(region syntheticRegion, size int) {
	g.families++
	familyID := fmt.Sprintf("%s%06d", region.code, g.families)

	young := g.rng.IntN(2) == 0
	head := person{relation: RelationHead, male: g.rng.IntN(10) < 7, surname: g.surname()}
	if young {
		head.birth = g.birthAged(28, 50)
	} else {
		head.birth = g.birthAged(55, 75)
	}
	members := []person{head}

	// A few heads are widowed or single parents.
	var spouse *person
	if g.rng.IntN(100) < 85 {
		s := person{relation: "1", male: !head.male, surname: g.otherSurname(head.surname)}
		s.birth = g.birthNear(head.birth, 5)
		members = append(members, s)
		spouse = &s
	}

	// Children take the father's surname. When the father is not in the
	// family, the head's surname is used.
	childSurname := head.surname
	youngerParent := head.birth
	if spouse != nil {
		if spouse.male {
			childSurname = spouse.surname
		}
		if spouse.birth.After(youngerParent) {
			youngerParent = spouse.birth
		}
	}

	if young {
		members = g.youngFamily(members, head, spouse, childSurname, youngerParent, size)
	} else {
		members = g.olderFamily(members, childSurname, youngerParent, size)
	}

	for _, p := range members {
		rec := g.record(region, p)
		rec.FamilyID = familyID
		rec.Relation = p.relation
		g.records = append(g.records, rec)
	}
}

// youngFamily adds children and parents of a head aged 28 to 50 until the
// family has size persons.
func (g *generator) youngFamily(members []person, head person, spouse *person, childSurname string, youngerParent time.Time, size int) []person {
	headParents, spouseParents := false, false // whether each pair is added
	for len(members) < size {
		parentsLeft := !headParents || (spouse != nil && !spouseParents)
		if !parentsLeft || g.rng.IntN(3) < 2 {
			members = append(members, g.child(childSurname, youngerParent))
			continue
		}

		of, fatherCode, motherCode := head, "2", "3"
		if headParents || (spouse != nil && !spouseParents && g.rng.IntN(2) == 0) {
			of, fatherCode, motherCode = *spouse, "4", "5"
			spouseParents = true
		} else {
			headParents = true
		}
		father := person{relation: fatherCode, male: true, surname: of.surname, birth: g.birthBefore(of.birth, 24, 38)}
		members = append(members, father)
		if len(members) < size {
			mother := person{relation: motherCode, surname: g.otherSurname(of.surname), birth: g.birthBefore(of.birth, 22, 34)}
			members = append(members, mother)
		}
	}
	return members
}

// olderFamily adds adult children, their spouses and grandchildren of a
// head aged 55 to 75 until the family has size persons.
func (g *generator) olderFamily(members []person, childSurname string, youngerParent time.Time, size int) []person {
	for len(members) < size {
		child := g.child(childSurname, youngerParent)
		members = append(members, child)
		if child.age() < 22 || len(members) == size {
			continue
		}

		// A son's wife is 儿媳 (21) and his children are 孙子/孙女 (16/17).
		// A daughter's husband is 女婿 (20), and her children are
		// 外孙子/外孙女 (18/19) with the husband's surname.
		inLaw := person{male: !child.male, surname: g.otherSurname(child.surname), birth: g.birthNear(child.birth, 4)}
		grandchildSurname, boyCode, girlCode := child.surname, "16", "17"
		inLaw.relation = "21"
		if !child.male {
			inLaw.relation = "20"
			grandchildSurname, boyCode, girlCode = inLaw.surname, "18", "19"
		}
		members = append(members, inLaw)

		youngest := child.birth
		if inLaw.birth.After(youngest) {
			youngest = inLaw.birth
		}
		if len(members) < size && syntheticToday.Sub(youngest) > 21*365*24*time.Hour {
			grandchild := g.child(grandchildSurname, youngest)
			grandchild.relation = girlCode
			if grandchild.male {
				grandchild.relation = boyCode
			}
			members = append(members, grandchild)
		}
	}
	return members
}

// child returns a son (6) or daughter (7) born at least 20 years after
// youngerParent and not after syntheticToday.
func (g *generator) child(surname string, youngerParent time.Time) person {
	c := person{male: g.rng.IntN(2) == 0, surname: surname, relation: "7"}
	if c.male {
		c.relation = "6"
	}
	earliest := youngerParent.AddDate(20, 0, 0)
	latest := youngerParent.AddDate(38, 0, 0)
	if latest.After(syntheticToday) {
		latest = syntheticToday
	}
	c.birth = g.dateBetween(earliest, latest)
	return c
}

// record turns a person into a record insured in region, with an ID
// number, a phone from age 16, an insurance type and a status.
func (g *generator) record(region syntheticRegion, p person) store.PersonRecord {
	rec := store.PersonRecord{
		Name:       p.surname + g.givenName(p.male),
		IDCard:     g.idNumber(region, p),
		CertType:   CertTypeResidentID,
		Region:     region.code,
		InsuStatus: g.status(),
	}
	if p.age() >= 16 {
		rec.Phone = g.phone()
	}
	// Minors are insured as residents. Of adults, a little over half are
	// employees.
	if p.age() >= 18 && g.rng.IntN(100) < 55 {
		g.makeEmployee(&rec, g.rng.Int64N(2_000_001)) // 0 to 20,000 yuan
	} else {
		g.makeResident(&rec, region)
	}
	return rec
}

func (g *generator) makeEmployee(rec *store.PersonRecord, balance int64) {
	rec.InsuType = InsuTypeEmployee
	rec.CompanyName = ""
	rec.Balance = balance
	rec.HasAccount = true
}

// makeResident makes rec a resident with the street office of region
// where it is insured, and no account.
func (g *generator) makeResident(rec *store.PersonRecord, region syntheticRegion) {
	district := region.districts[g.rng.IntN(len(region.districts))]
	rec.InsuType = InsuTypeResident
	rec.CompanyName = district.name + district.streets[g.rng.IntN(len(district.streets))]
	rec.Balance = 0
	rec.HasAccount = false
}

// status returns 1 for most persons, and 2 or 4 for a few.
func (g *generator) status() string {
	switch n := g.rng.IntN(100); {
	case n < 8:
		return InsuStatusSuspended
	case n < 15:
		return InsuStatusTerminated
	}
	return InsuStatusNormal
}

// idNumber returns a new, unique 18-digit ID number for p. Its area code
// is a district of region, or for one person in ten a district of another
// region, because people move. The sequence number is odd for men and
// even for women, as GB 11643-1999 defines.
func (g *generator) idNumber(region syntheticRegion, p person) string {
	if g.rng.IntN(10) == 0 {
		region = syntheticRegions[g.rng.IntN(len(syntheticRegions))]
	}
	area := region.districts[g.rng.IntN(len(region.districts))].code
	for {
		sequence := 2 * g.rng.IntN(500)
		if p.male {
			sequence++
		}
		digits := fmt.Sprintf("%s%s%03d", area, p.birth.Format("20060102"), sequence)
		id := digits + string(checkDigit(digits))
		if !g.ids[id] {
			g.ids[id] = true
			return id
		}
	}
}

func (g *generator) phone() string {
	prefix := phonePrefixes[g.rng.IntN(len(phonePrefixes))]
	return fmt.Sprintf("%s%08d", prefix, g.rng.IntN(100_000_000))
}

func (g *generator) surname() string {
	return surnames[g.rng.IntN(len(surnames))]
}

// otherSurname returns a surname other than not, for a spouse or an
// in-law.
func (g *generator) otherSurname(not string) string {
	for {
		if s := g.surname(); s != not {
			return s
		}
	}
}

// givenName returns a given name of one or, more often, two characters.
func (g *generator) givenName(male bool) string {
	chars := femaleNameChars
	if male {
		chars = maleNameChars
	}
	name := chars[g.rng.IntN(len(chars))]
	if g.rng.IntN(10) < 7 {
		name += chars[g.rng.IntN(len(chars))]
	}
	return name
}

// birthAged returns a birth date of someone aged minAge to maxAge on
// syntheticToday.
func (g *generator) birthAged(minAge, maxAge int) time.Time {
	earliest := syntheticToday.AddDate(-maxAge-1, 0, 1)
	latest := syntheticToday.AddDate(-minAge, 0, 0)
	return g.dateBetween(earliest, latest)
}

// birthNear returns a birth date within years of t, for a spouse.
func (g *generator) birthNear(t time.Time, years int) time.Time {
	return g.dateBetween(t.AddDate(-years, 0, 0), t.AddDate(years, 0, 0))
}

// birthBefore returns a birth date minYears to maxYears before t, for a
// parent.
func (g *generator) birthBefore(t time.Time, minYears, maxYears int) time.Time {
	return g.dateBetween(t.AddDate(-maxYears, 0, 0), t.AddDate(-minYears, 0, 0))
}

// dateBetween returns a uniformly chosen day from earliest to latest,
// both included.
func (g *generator) dateBetween(earliest, latest time.Time) time.Time {
	days := int(latest.Sub(earliest).Hours() / 24)
	if days < 0 {
		days = 0
	}
	return earliest.AddDate(0, 0, g.rng.IntN(days+1))
}

// syntheticRegion is a region with districts for ID numbers and the street
// offices of residents.
type syntheticRegion struct {
	code      string
	districts []syntheticDistrict
}

type syntheticDistrict struct {
	code    string // county-level administrative division code
	name    string
	streets []string // street offices and towns
}

// syntheticRegions lists the ten regions of the region table with a few of
// their districts and street offices.
var syntheticRegions = []syntheticRegion{
	{"350100", []syntheticDistrict{
		{"350102", "鼓楼区", []string{"东街街道", "南街街道", "温泉街道", "鼓东街道"}},
		{"350103", "台江区", []string{"瀛洲街道", "茶亭街道", "上海街道"}},
		{"350104", "仓山区", []string{"上渡街道", "对湖街道", "三叉街街道"}},
		{"350111", "晋安区", []string{"茶园街道", "王庄街道", "象园街道"}},
	}},
	{"350200", []syntheticDistrict{
		{"350203", "思明区", []string{"中华街道", "鹭江街道", "嘉莲街道"}},
		{"350206", "湖里区", []string{"湖里街道", "殿前街道", "江头街道"}},
		{"350211", "集美区", []string{"集美街道", "侨英街道"}},
	}},
	{"350300", []syntheticDistrict{
		{"350302", "城厢区", []string{"龙桥街道", "凤凰山街道"}},
		{"350303", "涵江区", []string{"涵东街道", "涵西街道"}},
		{"350304", "荔城区", []string{"镇海街道", "拱辰街道"}},
	}},
	{"350400", []syntheticDistrict{
		{"350404", "三元区", []string{"列东街道", "城关街道", "白沙街道"}},
		{"350405", "沙县区", []string{"凤岗街道", "虬江街道"}},
	}},
	{"350500", []syntheticDistrict{
		{"350502", "鲤城区", []string{"开元街道", "鲤中街道"}},
		{"350503", "丰泽区", []string{"东湖街道", "丰泽街道"}},
		{"350582", "晋江市", []string{"青阳街道", "梅岭街道"}},
	}},
	{"350600", []syntheticDistrict{
		{"350602", "芗城区", []string{"巷口街道", "南坊街道", "西桥街道"}},
		{"350603", "龙文区", []string{"蓝田街道", "步文街道"}},
	}},
	{"350700", []syntheticDistrict{
		{"350702", "延平区", []string{"梅山街道", "黄墩街道"}},
		{"350703", "建阳区", []string{"潭城街道", "童游街道"}},
	}},
	{"350800", []syntheticDistrict{
		{"350802", "新罗区", []string{"东城街道", "中城街道", "西城街道"}},
		{"350803", "永定区", []string{"凤城街道"}},
	}},
	{"350900", []syntheticDistrict{
		{"350902", "蕉城区", []string{"蕉南街道", "蕉北街道"}},
		{"350981", "福安市", []string{"城南街道", "城北街道"}},
	}},
	{"350128", []syntheticDistrict{
		{"350128", "平潭县", []string{"潭城镇", "苏澳镇", "流水镇"}},
	}},
}

// surnames are common Chinese surnames, many of them frequent in Fujian.
var surnames = []string{
	"陈", "林", "黄", "张", "吴", "王", "李", "刘", "郑", "杨",
	"蔡", "许", "谢", "郭", "洪", "曾", "邱", "廖", "赖", "周",
	"徐", "叶", "苏", "庄", "江", "何", "罗", "高", "游", "詹",
}

var maleNameChars = []string{
	"伟", "强", "建", "明", "志", "国", "文", "华", "俊", "杰",
	"斌", "涛", "鑫", "宇", "浩", "辉", "鹏", "军", "锋", "荣",
	"金", "福", "海", "龙", "平", "清", "坤", "晨", "勇", "毅",
}

var femaleNameChars = []string{
	"芳", "丽", "敏", "静", "燕", "霞", "婷", "玲", "娟", "雪",
	"琳", "颖", "慧", "萍", "红", "梅", "秀", "英", "倩", "欣",
	"美", "珍", "琴", "凤", "兰", "月", "思", "佳", "雨", "晴",
}

// phonePrefixes are mobile number prefixes from 13x to 19x in use in
// mainland China.
var phonePrefixes = []string{
	"130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
	"150", "151", "152", "153", "155", "156", "157", "158", "159",
	"166", "173", "175", "176", "177", "178",
	"180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
	"191", "198", "199",
}
