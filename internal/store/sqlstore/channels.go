package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"chsgate/internal/store"
)

const channelColumns = `appid, org_code, service_id, profile, sign_type, enc_type, key_derivation,
	security_mode, sm2_public_key, rsa_public_key, allowed_hosts, functions, disabled, secrets, created_at,
	updated_at`

// CreateChannel stores c. A zero CreatedAt or UpdatedAt is set to the
// current time, in c too.
func (s *Store) CreateChannel(ctx context.Context, c *store.Channel) error {
	now := time.Now().UTC()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	hosts, functions, err := encodeChannelLists(c)
	if err != nil {
		return err
	}

	r := s.runner()
	res, err := r.exec(ctx, `INSERT INTO channels (`+channelColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (appid) DO NOTHING`,
		c.AppID, c.OrgCode, c.ServiceID, c.Profile, c.SignType, c.EncType, c.KeyDerivation,
		string(c.SecurityMode), c.SM2PublicKey, c.RSAPublicKey, hosts, functions, c.Disabled,
		nonNil(c.Secrets), r.time(c.CreatedAt), r.time(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert channel %q: %w", c.AppID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("channel %q: %w", c.AppID, store.ErrExists)
	}
	return nil
}

// UpdateChannel replaces every field of the channel with c.AppID but
// CreatedAt, which keeps the stored value, if its updated_at is still
// previous. A zero UpdatedAt is set to the current time, in c too.
func (s *Store) UpdateChannel(ctx context.Context, c *store.Channel, previous time.Time) error {
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = time.Now().UTC()
	}
	hosts, functions, err := encodeChannelLists(c)
	if err != nil {
		return err
	}

	r := s.runner()
	res, err := r.exec(ctx, `UPDATE channels SET org_code = ?, service_id = ?, profile = ?, sign_type = ?,
		enc_type = ?, key_derivation = ?, security_mode = ?, sm2_public_key = ?, rsa_public_key = ?,
		allowed_hosts = ?, functions = ?, disabled = ?, secrets = ?, updated_at = ?
		WHERE appid = ? AND updated_at = ?`,
		c.OrgCode, c.ServiceID, c.Profile, c.SignType, c.EncType, c.KeyDerivation,
		string(c.SecurityMode), c.SM2PublicKey, c.RSAPublicKey, hosts, functions, c.Disabled,
		nonNil(c.Secrets), r.time(c.UpdatedAt), c.AppID, r.time(previous))
	if err != nil {
		return fmt.Errorf("update channel %q: %w", c.AppID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		// Either no such channel, or another update moved updated_at on.
		if _, err := s.Channel(ctx, c.AppID); err != nil {
			return err
		}
		return fmt.Errorf("channel %q: %w", c.AppID, store.ErrChanged)
	}
	return nil
}

func (s *Store) Channel(ctx context.Context, appid string) (*store.Channel, error) {
	row := s.runner().queryRow(ctx, `SELECT `+channelColumns+` FROM channels WHERE appid = ?`, appid)
	c, err := scanChannel(row)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("channel %q", appid))
	}
	return c, nil
}

func (s *Store) Channels(ctx context.Context) ([]*store.Channel, error) {
	rows, err := s.runner().query(ctx, `SELECT `+channelColumns+` FROM channels ORDER BY appid`)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()

	var channels []*store.Channel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		channels = append(channels, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return channels, nil
}

func scanChannel(row interface{ Scan(dest ...any) error }) (*store.Channel, error) {
	var c store.Channel
	var mode, hosts, functions string
	err := row.Scan(&c.AppID, &c.OrgCode, &c.ServiceID, &c.Profile, &c.SignType, &c.EncType,
		&c.KeyDerivation, &mode, &c.SM2PublicKey, &c.RSAPublicKey, &hosts, &functions, &c.Disabled, &c.Secrets,
		timeColumn{&c.CreatedAt}, timeColumn{&c.UpdatedAt})
	if err != nil {
		return nil, err
	}
	c.SecurityMode = store.SecurityMode(mode)
	if c.AllowedHosts, err = decodeList(hosts); err != nil {
		return nil, fmt.Errorf("channel %q: column allowed_hosts: %w", c.AppID, err)
	}
	if c.Functions, err = decodeList(functions); err != nil {
		return nil, fmt.Errorf("channel %q: column functions: %w", c.AppID, err)
	}
	return &c, nil
}

// encodeChannelLists returns the channel's allowed hosts and functions as
// JSON arrays, [] when empty.
func encodeChannelLists(c *store.Channel) (hosts, functions string, err error) {
	h, err := json.Marshal(nonNilList(c.AllowedHosts))
	if err != nil {
		return "", "", fmt.Errorf("encode allowed hosts of channel %q: %w", c.AppID, err)
	}
	f, err := json.Marshal(nonNilList(c.Functions))
	if err != nil {
		return "", "", fmt.Errorf("encode functions of channel %q: %w", c.AppID, err)
	}
	return string(h), string(f), nil
}

// decodeList decodes a JSON array of strings, and returns nil for an empty one.
func decodeList(s string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

func nonNilList(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// nonNil keeps a nil byte slice from being bound as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// SaveToken stores t, after deleting the tokens of its channel that have
// expired at now, so the table holds about one row per client of each
// channel rather than every token ever issued. It returns ErrNotFound when
// no channel has t.AppID.
func (s *Store) SaveToken(ctx context.Context, t *store.Token, now time.Time) error {
	r := s.runner()
	if _, err := r.exec(ctx, `DELETE FROM tokens WHERE appid = ? AND expires_at <= ?`, t.AppID, r.time(now)); err != nil {
		return fmt.Errorf("delete expired tokens of channel %q: %w", t.AppID, err)
	}
	res, err := r.exec(ctx, `INSERT INTO tokens (hash, appid, expires_at)
		SELECT ?, appid, ? FROM channels WHERE appid = ?`,
		t.Hash, r.time(t.ExpiresAt), t.AppID)
	if err != nil {
		return fmt.Errorf("insert token of channel %q: %w", t.AppID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("save token: channel %q: %w", t.AppID, store.ErrNotFound)
	}
	return nil
}

func (s *Store) Token(ctx context.Context, hash []byte) (*store.Token, error) {
	t := store.Token{Hash: bytes.Clone(hash)}
	err := s.runner().queryRow(ctx, `SELECT appid, expires_at FROM tokens WHERE hash = ?`, hash).
		Scan(&t.AppID, timeColumn{&t.ExpiresAt})
	if err != nil {
		return nil, notFound(err, "token")
	}
	return &t, nil
}
