package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Role is what a certificate's holder is allowed to be in the cluster.
type Role string

// The roles a certificate can carry.
const (
	RolePrimary Role = "primary"
	RoleWorker  Role = "worker"
	RoleClient  Role = "client"
)

// Roles lists every role, in a fixed order.
var Roles = []Role{RolePrimary, RoleWorker, RoleClient}

// ErrNoRole means a certificate carries no gomr role URI.
var ErrNoRole = errors.New("certificate names no gomr role")

// uriScheme and uriHost make a role URI: gomr://role/ROLE/NAME.
const (
	uriScheme = "gomr"
	uriHost   = "role"
)

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: want primary, worker or client", s)
}

// RoleURI returns the URI SAN that names a holder's role and name.
func RoleURI(role Role, name string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: "/" + string(role) + "/" + name}
}

// Principal is who a certificate names: a role and a name.
type Principal struct {
	Role Role
	Name string
}

// String returns ROLE/NAME.
func (p Principal) String() string { return string(p.Role) + "/" + p.Name }

// PrincipalOf reads the role and name from a certificate's URI SAN.
func PrincipalOf(cert *x509.Certificate) (Principal, error) {
	for _, u := range cert.URIs {
		if u.Scheme != uriScheme || u.Host != uriHost {
			continue
		}
		role, name, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if !ok || name == "" {
			return Principal{}, fmt.Errorf("certificate %q: role URI %s: want gomr://role/ROLE/NAME", cert.Subject.CommonName, u)
		}
		r, err := ParseRole(role)
		if err != nil {
			return Principal{}, fmt.Errorf("certificate %q: %w", cert.Subject.CommonName, err)
		}
		return Principal{Role: r, Name: name}, nil
	}
	return Principal{}, fmt.Errorf("certificate %q: %w", cert.Subject.CommonName, ErrNoRole)
}

// validName reports whether name can be a certificate holder's name: it
// becomes a file name and part of a URI.
func validName(name string) error {
	if name == "" {
		return errors.New("name is empty")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') || name == "." || name == ".." {
			return fmt.Errorf("name %q: use letters, digits, '-', '_' and '.' only", name)
		}
	}
	if name == "ca" {
		return errors.New(`name "ca" is the CA's own`)
	}
	return nil
}
