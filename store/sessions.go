package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"
)

// Login sessions live in the store, so that every node behind a load
// balancer knows them and a restart keeps them. A session is stored by
// the SHA-256 of its id (whoever reads the database cannot sign in with
// it) with the grant it carries: an API token's id, or the admin grant
// tied to the admin token it was opened with.

// MaxSessionsPerGrant bounds the sessions one grant keeps; starting one
// more ends the oldest.
const MaxSessionsPerGrant = 100

func sessionHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// StartSession stores the session id for grant until expires, ending the
// grant's oldest sessions beyond MaxSessionsPerGrant and every expired
// one.
func (s *Store) StartSession(ctx context.Context, id, grant string, now, expires time.Time) error {
	tx, release, err := s.begin(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, now.UnixNano()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE grant_id = ? AND created_at <= (
		SELECT created_at FROM sessions WHERE grant_id = ? ORDER BY created_at DESC LIMIT 1 OFFSET ?)`,
		grant, grant, MaxSessionsPerGrant-1); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		sessionHash(id), grant, now.UnixNano(), expires.UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// Session returns the grant of the session id, live at now; ErrNotFound
// for none, an ended one or an expired one.
func (s *Store) Session(ctx context.Context, id string, now time.Time) (string, error) {
	var grant string
	err := s.db.QueryRowContext(ctx, `SELECT grant_id FROM sessions WHERE id_hash = ? AND expires_at >= ?`,
		sessionHash(id), now.UnixNano()).Scan(&grant)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return grant, err
}

// EndSession ends the session id (a logout, or its token revoked).
func (s *Store) EndSession(ctx context.Context, id string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sessionHash(id))
	return err
}

// SweepSessions removes the sessions expired at now and returns how many.
func (s *Store) SweepSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, now.UnixNano())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
