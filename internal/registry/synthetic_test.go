package registry

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"chsgate/internal/store"
)

func TestSyntheticDeterministic(t *testing.T) {
	a, b := Synthetic(42), Synthetic(42)
	if !reflect.DeepEqual(a, b) {
		t.Error("two calls with seed 42 differ")
	}
	if reflect.DeepEqual(a, Synthetic(43)) {
		t.Error("seeds 42 and 43 give the same registry")
	}
}

// syntheticSeeds are the seeds the property tests run on.
var syntheticSeeds = []int64{0, 1, 2, 42, -7, 20250630}

func TestSyntheticRoundTrip(t *testing.T) {
	for _, seed := range syntheticSeeds {
		records := Synthetic(seed)
		var b bytes.Buffer
		if err := WritePersons(&b, records); err != nil {
			t.Fatal(err)
		}
		got, err := ParsePersons(&b)
		if err != nil {
			t.Fatalf("seed %d: ParsePersons of the written registry: %v", seed, err)
		}
		if !reflect.DeepEqual(got, records) {
			t.Errorf("seed %d: the registry read back differs from the one written", seed)
		}
	}
}

func TestSyntheticCoverage(t *testing.T) {
	for _, seed := range syntheticSeeds {
		records := Synthetic(seed)
		if len(records) < MinSyntheticPersons {
			t.Errorf("seed %d: %d persons, want at least %d", seed, len(records), MinSyntheticPersons)
		}

		regions := map[string]bool{}
		insuTypes := map[string]int{}
		statuses := map[string]int{}
		withoutFamily := 0
		for _, r := range records {
			regions[r.Region] = true
			insuTypes[r.InsuType]++
			statuses[r.InsuStatus]++
			if r.FamilyID == "" {
				withoutFamily++
			}
		}
		for _, region := range Regions().Codes() {
			if !regions[region.Code] {
				t.Errorf("seed %d: no person in region %s %s", seed, region.Code, region.Name)
			}
		}
		for _, code := range []string{InsuTypeEmployee, InsuTypeResident} {
			if insuTypes[code] == 0 {
				t.Errorf("seed %d: no person of insurance type %s", seed, code)
			}
		}
		for _, code := range []string{InsuStatusSuspended, InsuStatusTerminated} {
			if statuses[code] == 0 {
				t.Errorf("seed %d: no person of status %s", seed, code)
			}
		}
		if statuses[InsuStatusNormal] < len(records)*3/4 {
			t.Errorf("seed %d: %d of %d persons have status 1, want most", seed, statuses[InsuStatusNormal], len(records))
		}
		if withoutFamily == 0 {
			t.Errorf("seed %d: every person is in a family", seed)
		}
	}
}

func TestSyntheticPersons(t *testing.T) {
	for _, seed := range syntheticSeeds {
		for _, r := range Synthetic(seed) {
			if _, err := validateIDCard(r.CertType, r.IDCard, syntheticToday); err != nil {
				t.Errorf("seed %d line %d: idcard %s: %v", seed, r.Line, r.IDCard, err)
			}
			if r.Phone != "" && !isSyntheticPhone(r.Phone) {
				t.Errorf("seed %d line %d: phone %q is not 13x to 19x", seed, r.Line, r.Phone)
			}
			if n := len([]rune(r.Name)); n < 2 || n > 3 {
				t.Errorf("seed %d line %d: name %q has %d characters, want 2 or 3", seed, r.Line, r.Name, n)
			}
			switch r.InsuType {
			case InsuTypeEmployee:
				if !r.HasAccount {
					t.Errorf("seed %d line %d: employee without an account", seed, r.Line)
				}
				if r.Balance < 0 || r.Balance > 2_000_000 {
					t.Errorf("seed %d line %d: balance %d fen is outside 0 to 20,000 yuan", seed, r.Line, r.Balance)
				}
			case InsuTypeResident:
				if r.HasAccount {
					t.Errorf("seed %d line %d: resident with an account", seed, r.Line)
				}
				if !strings.HasSuffix(r.CompanyName, "街道") && !strings.HasSuffix(r.CompanyName, "镇") {
					t.Errorf("seed %d line %d: resident company_name %q is not a street office or town", seed, r.Line, r.CompanyName)
				}
			}
			if age := ageOn(birthDate(r.IDCard), syntheticToday); age < 18 && r.InsuType == InsuTypeEmployee {
				t.Errorf("seed %d line %d: employee aged %d", seed, r.Line, age)
			}
		}
	}
}

// isSyntheticPhone reports whether phone is 11 digits starting 13 to 19.
func isSyntheticPhone(phone string) bool {
	return checkPhone(phone) == ""
}

// birthDate returns the birth date inside a valid 18-digit ID number.
func birthDate(idcard string) time.Time {
	d, err := time.Parse("20060102", idcard[6:14])
	if err != nil {
		panic(err)
	}
	return d
}

func ageOn(birth, day time.Time) int {
	age := day.Year() - birth.Year()
	if day.Before(birth.AddDate(age, 0, 0)) {
		age--
	}
	return age
}

// isMale reports the sex written in an ID number: the 17th digit is odd
// for men.
func isMale(idcard string) bool {
	return (idcard[16]-'0')%2 == 1
}

func syntheticFamilies(records []store.PersonRecord) map[string][]store.PersonRecord {
	families := map[string][]store.PersonRecord{}
	for _, r := range records {
		if r.FamilyID != "" {
			families[r.FamilyID] = append(families[r.FamilyID], r)
		}
	}
	return families
}

func TestSyntheticFamilies(t *testing.T) {
	// Sex of each relationship code the generator uses, true for male.
	sexOf := map[string]bool{
		"2": true, "3": false, "4": true, "5": false, "6": true, "7": false,
		"16": true, "17": false, "18": true, "19": false, "20": true, "21": false,
	}
	for _, seed := range syntheticSeeds {
		families := syntheticFamilies(Synthetic(seed))
		if len(families) < 20 {
			t.Errorf("seed %d: %d families, want at least 20", seed, len(families))
		}
		for id, members := range families {
			if len(members) < 2 || len(members) > 6 {
				t.Errorf("seed %d family %s: %d members, want 2 to 6", seed, id, len(members))
			}
			head := members[0]
			if head.Relation != RelationHead {
				t.Errorf("seed %d family %s: first member has hser_rlts %q, want the head first", seed, id, head.Relation)
			}
			count := map[string]int{}
			for _, m := range members {
				count[m.Relation]++
				if m.Region != head.Region {
					t.Errorf("seed %d family %s: member region %s differs from the head's %s", seed, id, m.Region, head.Region)
				}
				if male, ok := sexOf[m.Relation]; ok && isMale(m.IDCard) != male {
					t.Errorf("seed %d family %s: hser_rlts %s with ID number %s of the wrong sex", seed, id, m.Relation, m.IDCard)
				}
			}
			if count[RelationHead] != 1 {
				t.Errorf("seed %d family %s: %d heads, want 1", seed, id, count[RelationHead])
			}
			for _, code := range []string{"1", "2", "3", "4", "5"} {
				if count[code] > 1 {
					t.Errorf("seed %d family %s: %d persons with hser_rlts %s, want at most 1", seed, id, count[code], code)
				}
			}
			checkGenerations(t, seed, id, members)
		}
	}
}

// checkGenerations checks that children are a generation (18 years)
// younger than the head and the spouse, parents a generation older than
// their child, and grandchildren a generation younger than one of the
// head's children.
func checkGenerations(t *testing.T, seed int64, id string, members []store.PersonRecord) {
	t.Helper()
	byRelation := map[string][]time.Time{}
	for _, m := range members {
		byRelation[m.Relation] = append(byRelation[m.Relation], birthDate(m.IDCard))
	}
	head := byRelation[RelationHead][0]
	parents := append([]time.Time{head}, byRelation["1"]...)
	children := append(append([]time.Time{}, byRelation["6"]...), byRelation["7"]...)
	grandchildren := append(append(append(append([]time.Time{}, byRelation["16"]...), byRelation["17"]...), byRelation["18"]...), byRelation["19"]...)

	for _, child := range children {
		for _, parent := range parents {
			if !child.After(parent.AddDate(18, 0, 0)) {
				t.Errorf("seed %d family %s: child born %s, parent born %s", seed, id, child.Format(time.DateOnly), parent.Format(time.DateOnly))
			}
		}
	}
	for _, code := range []string{"2", "3"} {
		for _, p := range byRelation[code] {
			if !p.AddDate(18, 0, 0).Before(head) {
				t.Errorf("seed %d family %s: head's parent born %s, head born %s", seed, id, p.Format(time.DateOnly), head.Format(time.DateOnly))
			}
		}
	}
	for _, code := range []string{"4", "5"} {
		for _, p := range byRelation[code] {
			if len(byRelation["1"]) == 0 {
				t.Errorf("seed %d family %s: spouse's parent without a spouse", seed, id)
			} else if !p.AddDate(18, 0, 0).Before(byRelation["1"][0]) {
				t.Errorf("seed %d family %s: spouse's parent born %s, spouse born %s", seed, id, p.Format(time.DateOnly), byRelation["1"][0].Format(time.DateOnly))
			}
		}
	}
	if len(grandchildren) > 0 && len(children) == 0 {
		t.Errorf("seed %d family %s: grandchildren without children", seed, id)
	}
	for _, g := range grandchildren {
		youngerThanAChild := false
		for _, c := range children {
			if g.After(c.AddDate(18, 0, 0)) {
				youngerThanAChild = true
			}
		}
		if !youngerThanAChild {
			t.Errorf("seed %d family %s: grandchild born %s is not a generation below any child", seed, id, g.Format(time.DateOnly))
		}
	}
}

// TestSyntheticPaymentCases checks the families that payment tests rely on.
func TestSyntheticPaymentCases(t *testing.T) {
	for _, seed := range syntheticSeeds {
		records := Synthetic(seed)
		families := syntheticFamilies(records)

		first := families[records[0].FamilyID]
		if len(first) < 2 {
			t.Fatalf("seed %d: the first record is not in a family", seed)
		}
		head, member := first[0], first[1]
		if head.Relation != RelationHead {
			t.Errorf("seed %d: the first family starts with hser_rlts %q, not its head", seed, head.Relation)
		}
		if !head.HasAccount {
			t.Errorf("seed %d: the first family's head has no account", seed)
		}
		if head.InsuStatus != InsuStatusNormal {
			t.Errorf("seed %d: the first family's head has status %s", seed, head.InsuStatus)
		}
		if member.HasAccount {
			t.Errorf("seed %d: the first family's second member has an account", seed)
		}

		// The second family starts after the first one's members.
		second := records[len(first)]
		if second.FamilyID == "" || second.FamilyID == first[0].FamilyID {
			t.Fatalf("seed %d: record %d does not start the second family", seed, second.Line)
		}
		if second.Relation != RelationHead {
			t.Errorf("seed %d: the second family starts with hser_rlts %q, not its head", seed, second.Relation)
		}
		if !second.HasAccount {
			t.Errorf("seed %d: the second family's head has no account", seed)
		}
		if second.Balance >= 10_000 {
			t.Errorf("seed %d: the second family's head has %d fen, want under 100 yuan", seed, second.Balance)
		}
		if second.InsuStatus != InsuStatusNormal {
			t.Errorf("seed %d: the second family's head has status %s", seed, second.InsuStatus)
		}
	}
}

func TestSyntheticUniqueIDCards(t *testing.T) {
	for _, seed := range syntheticSeeds {
		seen := map[string]int{}
		for _, r := range Synthetic(seed) {
			if line, ok := seen[r.IDCard]; ok {
				t.Errorf("seed %d: ID number %s on lines %d and %d", seed, r.IDCard, line, r.Line)
			}
			seen[r.IDCard] = r.Line
		}
	}
}

func TestSyntheticLineNumbers(t *testing.T) {
	for i, r := range Synthetic(5) {
		if r.Line != i+1 {
			t.Fatalf("record %d has Line %d", i, r.Line)
		}
	}
}
