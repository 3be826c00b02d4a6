package state

import (
	"fmt"

	"github.com/gomr/gomr/primary/access"
)

// Token is a client token as the cluster keeps it: the hash of its
// secret, never the secret (package access).
type Token struct {
	Accessor   string      `json:"accessor"`
	Name       string      `json:"name"`
	Role       access.Role `json:"role"`
	SecretHash string      `json:"secret_hash"`
	CreatedAt  int64       `json:"created_at"`
	// ExpiresAt is when the token stops being valid, in Unix
	// nanoseconds; 0: never.
	ExpiresAt int64  `json:"expires_at,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
	// DataRoots, if any, confine the steps submitted with the token
	// (within the cluster's data roots).
	DataRoots []string `json:"data_roots,omitempty"`
}

// Valid reports whether the token is still valid at now (Unix
// nanoseconds).
func (t *Token) Valid(now int64) bool { return t.ExpiresAt == 0 || now < t.ExpiresAt }

// CreateToken adds a token. With Bootstrap it is the cluster's first
// admin token, refused while a valid admin token exists.
type CreateToken struct {
	Token     Token `json:"token"`
	Bootstrap bool  `json:"bootstrap,omitempty"`
	Time      int64 `json:"time"`
}

// RevokeToken deletes a token.
type RevokeToken struct {
	Accessor string `json:"accessor"`
}

// Type implements Command.
func (CreateToken) Type() CommandType { return CmdCreateToken }

// Type implements Command.
func (RevokeToken) Type() CommandType { return CmdRevokeToken }

func (w *tx) createToken(c *CreateToken) error {
	t := c.Token
	if !access.ValidAccessor(t.Accessor) || len(t.SecretHash) != 64 {
		return fmt.Errorf("token %q: bad accessor or secret hash: %w", t.Accessor, ErrConflict)
	}
	if _, err := access.ParseRole(string(t.Role)); err != nil {
		return fmt.Errorf("token %s: %w: %w", t.Accessor, err, ErrConflict)
	}
	if _, ok := w.Token(t.Accessor); ok {
		return fmt.Errorf("token %s: %w", t.Accessor, ErrExists)
	}
	if c.Bootstrap {
		for _, old := range w.Tokens() {
			if old.Role == access.RoleAdmin && old.Valid(c.Time) {
				return fmt.Errorf("bootstrap: the cluster has an admin token already (%s, %q): %w", old.Accessor, old.Name, ErrConflict)
			}
		}
	}
	w.put(tableTokens, &t)
	return nil
}

func (w *tx) revokeToken(c *RevokeToken) error {
	t, ok := w.Token(c.Accessor)
	if !ok {
		return fmt.Errorf("token %s: %w", c.Accessor, ErrNotFound)
	}
	if err := w.txn.Delete(tableTokens, t); err != nil {
		panic(fmt.Sprintf("state: delete token: %v", err))
	}
	return nil
}

// Token returns a token by accessor.
func (v *View) Token(accessor string) (*Token, bool) {
	return first[*Token](v.txn, tableTokens, indexID, accessor)
}

// Tokens returns every token, by accessor.
func (v *View) Tokens() []*Token {
	return collect(all[*Token](v.txn.Get(tableTokens, indexID+"_prefix", "")))
}
