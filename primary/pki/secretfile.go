package pki

import (
	"fmt"
	"os"
)

// WriteSecretFile writes a file only its owner may read (mode 0600),
// atomically: a private key, the gossip key, a token.
func WriteSecretFile(file string, b []byte) error {
	if err := writeFile(file, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// CheckSecretFile refuses a file holding a secret that every user of the
// machine may read or write, as ssh refuses such a key.
func CheckSecretFile(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return fmt.Errorf("%s holds a secret but every user may access it (mode %04o): chmod 600 %s", file, perm, file)
	}
	return nil
}

// ReadSecretFile reads a file holding a secret, refusing one that every
// user of the machine may access (CheckSecretFile).
func ReadSecretFile(file string) ([]byte, error) {
	if err := CheckSecretFile(file); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return b, nil
}
