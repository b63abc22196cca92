package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"chsgate/internal/store"
)

// headRelation is the hser_rlts code of the household head.
const headRelation = "0"

// personColumns are the columns scanPerson reads, in its order.
const personColumns = `id, idcard, cert_type, name, phone, region, insu_type, insu_status, company_name, family_id, relation`

// maxListArgs bounds the placeholders of one IN list, well under SQLite's
// limit of 32766 and PostgreSQL's of 65535.
const maxListArgs = 500

func (s *Store) PersonByIDCard(ctx context.Context, idcard string) (*store.Person, error) {
	row := s.runner().queryRow(ctx, `SELECT `+personColumns+` FROM persons WHERE idcard = ?`, idcard)
	p, err := scanPerson(row)
	if err != nil {
		// The error names no ID number: errors end up in logs.
		return nil, notFound(err, "person")
	}
	return p, nil
}

func (s *Store) PersonByID(ctx context.Context, id int64) (*store.Person, error) {
	row := s.runner().queryRow(ctx, `SELECT `+personColumns+` FROM persons WHERE id = ?`, id)
	p, err := scanPerson(row)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("person %d", id))
	}
	return p, nil
}

func (s *Store) FamilyMembers(ctx context.Context, familyID string) ([]*store.Person, error) {
	rows, err := s.runner().query(ctx, `SELECT `+personColumns+` FROM persons WHERE family_id = ?
		ORDER BY CASE WHEN relation = '0' THEN 0 ELSE 1 END, id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("read family network %q: %w", familyID, err)
	}
	defer rows.Close()

	var members []*store.Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, fmt.Errorf("read family network %q: %w", familyID, err)
		}
		members = append(members, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read family network %q: %w", familyID, err)
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("family network %q: %w", familyID, store.ErrNotFound)
	}
	return members, nil
}

func (s *Store) PersonCount(ctx context.Context) (int, error) {
	var n int
	if err := s.runner().queryRow(ctx, `SELECT COUNT(*) FROM persons`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	return n, nil
}

func scanPerson(row interface{ Scan(dest ...any) error }) (*store.Person, error) {
	var p store.Person
	var familyID sql.NullString
	err := row.Scan(&p.ID, &p.IDCard, &p.CertType, &p.Name, &p.Phone, &p.Region, &p.InsuType,
		&p.InsuStatus, &p.CompanyName, &familyID, &p.Relation)
	if err != nil {
		return nil, err
	}
	p.FamilyID = familyID.String
	return &p, nil
}

// nullIfEmpty binds "" as NULL, for family_id.
func nullIfEmpty(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// chunks splits items into slices of at most maxListArgs.
func chunks[T any](items []T) [][]T {
	var out [][]T
	for len(items) > maxListArgs {
		out = append(out, items[:maxListArgs])
		items = items[maxListArgs:]
	}
	if len(items) > 0 {
		out = append(out, items)
	}
	return out
}

func anySlice[T any](items []T) []any {
	out := make([]any, len(items))
	for i, item := range items {
		out[i] = item
	}
	return out
}
