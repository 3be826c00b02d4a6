package state

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/gomr/gomr/primary/access"
)

func token(role access.Role, name string, expires int64) Token {
	_, accessor, hash := access.NewToken()
	return Token{Accessor: accessor, Name: name, Role: role, SecretHash: hash, CreatedAt: 1, ExpiresAt: expires}
}

// TestTokens: tokens are created, listed and revoked; the bootstrap makes
// an admin token only while no valid one exists; bad tokens are refused
// without a change; tokens survive a snapshot, which holds their hashes
// and never a secret.
func TestTokens(t *testing.T) {
	s := New()
	first := token(access.RoleAdmin, "first", 0)
	mustApply(t, s, &CreateToken{Token: first, Bootstrap: true, Time: 10})
	mustReject(t, s, &CreateToken{Token: token(access.RoleAdmin, "second", 0), Bootstrap: true, Time: 11}, ErrConflict)
	mustReject(t, s, &CreateToken{Token: first, Time: 11}, ErrExists)
	bad := token(access.Role("root"), "x", 0)
	mustReject(t, s, &CreateToken{Token: bad, Time: 11}, ErrConflict)
	bad = token(access.RoleRead, "x", 0)
	bad.Accessor = "../etc"
	mustReject(t, s, &CreateToken{Token: bad, Time: 11}, ErrConflict)

	secret, accessor, hash := access.NewToken()
	reader := Token{Accessor: accessor, Name: "reader", Role: access.RoleRead, SecretHash: hash, CreatedAt: 12, ExpiresAt: 100}
	mustApply(t, s, &CreateToken{Token: reader, Time: 12})
	if got, ok := s.View().Token(accessor); !ok || !reflect.DeepEqual(*got, reader) {
		t.Fatalf("Token(%s) = %v, %v; want %v", accessor, got, ok, reader)
	}
	if got := s.View().Tokens(); len(got) != 2 {
		t.Fatalf("Tokens() holds %d tokens, want 2", len(got))
	}
	if !reader.Valid(99) || reader.Valid(100) || !first.Valid(1<<62) {
		t.Fatal("Valid does not follow ExpiresAt")
	}

	r := roundTrip(t, s)
	if got, ok := r.View().Token(accessor); !ok || !reflect.DeepEqual(*got, reader) {
		t.Fatalf("restored Token(%s) = %v, %v", accessor, got, ok)
	}
	_, sec, _ := access.ParseToken(secret)
	if raw := snapshot(t, s.View()); bytes.Contains(raw, []byte(sec)) {
		t.Fatal("the snapshot holds a token's secret")
	}
	for _, c := range []Command{&CreateToken{Token: reader, Time: 12}} {
		b, _ := Encode(c)
		if strings.Contains(string(b), sec) {
			t.Fatal("a CreateToken log entry holds the token's secret")
		}
	}

	mustApply(t, s, &RevokeToken{Accessor: accessor})
	if _, ok := s.View().Token(accessor); ok {
		t.Fatal("a revoked token is still there")
	}
	mustReject(t, s, &RevokeToken{Accessor: accessor}, ErrNotFound)

	// Once every admin token has expired or been revoked, the bootstrap
	// works again.
	mustApply(t, s, &RevokeToken{Accessor: first.Accessor})
	expiring := token(access.RoleAdmin, "expiring", 50)
	mustApply(t, s, &CreateToken{Token: expiring, Bootstrap: true, Time: 20})
	mustReject(t, s, &CreateToken{Token: token(access.RoleAdmin, "again", 0), Bootstrap: true, Time: 49}, ErrConflict)
	mustApply(t, s, &CreateToken{Token: token(access.RoleAdmin, "after expiry", 0), Bootstrap: true, Time: 50})
}
