package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Default lifetimes.
const (
	// DefaultCAValidity is how long a new CA is valid: ten years.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultValidity is how long an issued certificate is valid: a year.
	DefaultValidity = 365 * 24 * time.Hour
)

// File names in a CA folder.
const (
	CACertFile    = "ca.crt"
	CAKeyFile     = "ca.key"
	GossipKeyFile = "gossip.key"
)

// clockSkew is how far before now a certificate's validity starts, so
// that hosts whose clocks lag a little accept it at once.
const clockSkew = 5 * time.Minute

// CA is a cluster certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertPEM is Cert, PEM-encoded: what nodes trust.
	CertPEM []byte
}

// NewCA creates a CA named name, valid for validity from now.
func NewCA(name string, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("new CA: validity must be positive, got %s", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"gomr"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Save writes the CA's certificate and key into dir (made if missing).
// It refuses to overwrite a CA already there.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	for _, f := range []string{CACertFile, CAKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("save CA: %s already exists (remove it to make a new CA; every certificate it issued stops being trusted)", filepath.Join(dir, f))
		}
	}
	if err := writeFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	if err := writeFile(filepath.Join(dir, CACertFile), ca.CertPEM, 0o644); err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	return nil
}

// LoadCA reads the CA saved in dir.
func LoadCA(dir string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w (make one with gomr cert init --dir %s)", err, dir)
	}
	cert, err := ParseCertificate(certPEM, certFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("load CA: %s is not a CA certificate", certFile)
	}
	keyPEM, err := ReadSecretFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	key, err := ParseKey(keyPEM, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("load CA: %s is not the key of %s", keyFile, certFile)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// Request asks for a certificate.
type Request struct {
	Role Role
	// Name is the holder's name (a node id, a user name).
	Name string
	// Hosts are the DNS names and IP addresses the holder is reached by;
	// each becomes a DNS or IP SAN. Clients need none.
	Hosts []string
	// NotBefore and NotAfter bound the validity; zero values mean from a
	// few minutes ago for DefaultValidity (or until the CA expires, if
	// sooner).
	NotBefore, NotAfter time.Time
}

// Issued is a certificate and its private key, PEM-encoded.
type Issued struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
}

// Issue signs a new certificate for req with a fresh ECDSA P-256 key.
// Primaries and workers get both server and client use (they serve calls
// and make them); clients get client use only.
func (ca *CA) Issue(req Request) (*Issued, error) {
	if _, err := ParseRole(string(req.Role)); err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	if err := validName(req.Name); err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	now := time.Now()
	notBefore, notAfter := req.NotBefore, req.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-clockSkew)
	}
	if notAfter.IsZero() {
		notAfter = now.Add(DefaultValidity)
		if notAfter.After(ca.Cert.NotAfter) {
			notAfter = ca.Cert.NotAfter
		}
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("issue certificate %s: it would expire (%s) before it is valid (%s)", req.Name, notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	}
	if notAfter.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("issue certificate %s: it would outlive its CA, which expires %s", req.Name, ca.Cert.NotAfter.Format(time.RFC3339))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.Name, Organization: []string{"gomr"}, OrganizationalUnit: []string{string(req.Role)}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{RoleURI(req.Role, req.Name)},
	}
	if req.Role != RoleClient {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	for _, h := range req.Hosts {
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate %s: sign: %w", req.Name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue certificate %s: %w", req.Name, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM, Cert: cert}, nil
}

// Save writes the pair as dir/name.crt and dir/name.key (mode 0600),
// replacing files there (renewal), and returns their paths.
func (is *Issued) Save(dir, name string) (certFile, keyFile string, err error) {
	if err := validName(name); err != nil {
		return "", "", fmt.Errorf("save certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("save certificate: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	// The key first: a reader that sees the new certificate must find
	// its key.
	if err := writeFile(keyFile, is.KeyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("save certificate: %w", err)
	}
	if err := writeFile(certFile, is.CertPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("save certificate: %w", err)
	}
	return certFile, keyFile, nil
}

// ParseCertificate parses the first PEM certificate of b; file names b
// in errors.
func ParseCertificate(b []byte, file string) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cert, nil
}

// ParseKey parses a PEM PKCS #8 private key; file names b in errors.
func ParseKey(b []byte, file string) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PEM PRIVATE KEY block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key of type %T cannot sign", file, k)
	}
	return s, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}

// writeFile writes b to file through a temporary file and a rename, so
// that a reader (a node reloading its certificate) never sees half a file.
func writeFile(file string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return errors.Join(fmt.Errorf("write %s", file), err)
	}
	return nil
}
