package pki

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// NewGossipKey returns a new 32-byte gossip encryption key (AES-256).
func NewGossipKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// EncodeGossipKey returns key as --gossip-key takes it: standard base64.
func EncodeGossipKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// ParseGossipKey parses --gossip-key: base64 of 16, 24 or 32 bytes
// (AES-128, -192 or -256).
func ParseGossipKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("gossip key: not base64: %w", err)
	}
	switch len(k) {
	case 16, 24, 32:
		return k, nil
	}
	return nil, fmt.Errorf("gossip key: %d bytes; want 16, 24 or 32 (base64 of them)", len(k))
}

// SaveGossipKey writes key, base64-encoded, to file (mode 0600), refusing
// to replace one already there.
func SaveGossipKey(file string, key []byte) error {
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("save gossip key: %s already exists", file)
	}
	if err := writeFile(file, []byte(EncodeGossipKey(key)+"\n"), 0o600); err != nil {
		return fmt.Errorf("save gossip key: %w", err)
	}
	return nil
}
