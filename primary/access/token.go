package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// tokenPrefix starts every token, so that one is recognisable in a
// config file (and by secret scanners).
const tokenPrefix = "gomr_"

const (
	accessorBytes = 8
	secretBytes   = 32
)

// ErrBadToken means a string is not a gomr token.
var ErrBadToken = errors.New("not a gomr token")

// NewToken makes a token: the string to hand to its holder (once), its
// accessor and the hash of its secret, which is all the cluster keeps.
func NewToken() (token, accessor, secretHash string) {
	a := make([]byte, accessorBytes)
	s := make([]byte, secretBytes)
	rand.Read(a) // never fails (crypto/rand)
	rand.Read(s)
	accessor, secret := hex.EncodeToString(a), hex.EncodeToString(s)
	return tokenPrefix + accessor + "_" + secret, accessor, HashSecret(secret)
}

// ParseToken splits a token into its accessor and secret.
func ParseToken(token string) (accessor, secret string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), tokenPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: it does not start with %q", ErrBadToken, tokenPrefix)
	}
	accessor, secret, ok = strings.Cut(rest, "_")
	if !ok || len(accessor) != 2*accessorBytes || len(secret) != 2*secretBytes || !isHex(accessor) || !isHex(secret) {
		return "", "", fmt.Errorf("%w: want %sACCESSOR_SECRET, %d and %d hex digits", ErrBadToken, tokenPrefix, 2*accessorBytes, 2*secretBytes)
	}
	return accessor, secret, nil
}

// ValidAccessor reports whether s can be a token's accessor.
func ValidAccessor(s string) bool { return len(s) == 2*accessorBytes && isHex(s) }

// HashSecret returns the hex SHA-256 of a token's secret. The secrets
// are 256 random bits, so a plain hash is as strong as a slow one.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// SecretMatches reports, in constant time, whether secret hashes to
// hash.
func SecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Grant is what a valid token gives its holder.
type Grant struct {
	Accessor string
	Name     string
	Role     Role
	// ExpiresAt is in Unix nanoseconds; 0: never.
	ExpiresAt int64
	// DataRoots, if any, confine the steps the token submits further
	// than the cluster's data roots do.
	DataRoots []string
}

// String names the token for logs and errors: never its secret.
func (g Grant) String() string {
	return fmt.Sprintf("token %s (%q, %s)", g.Accessor, g.Name, g.Role)
}
