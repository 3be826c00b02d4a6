package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomr/gomr/primary/pki"
)

// DefaultPoll is how often an Identity checks its files for a change.
const DefaultPoll = 2 * time.Second

// Files names a node's certificate, its private key and the cluster CA
// certificate, PEM files all three.
type Files struct {
	Cert, Key, CA string
}

// Set reports whether any file is named.
func (f Files) Set() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Validate reports an incomplete set: all three files or none.
func (f Files) Validate() error {
	if !f.Set() || (f.Cert != "" && f.Key != "" && f.CA != "") {
		return nil
	}
	var missing []error
	for _, m := range []struct{ flag, v string }{{"--tls-cert", f.Cert}, {"--tls-key", f.Key}, {"--tls-ca", f.CA}} {
		if m.v == "" {
			missing = append(missing, fmt.Errorf("%s is missing", m.flag))
		}
	}
	return fmt.Errorf("tls: give --tls-cert, --tls-key and --tls-ca together: %w", errors.Join(missing...))
}

// Options configures Load.
type Options struct {
	Files
	// Poll is how often the files are checked for a change (0:
	// DefaultPoll; negative: never, only Reload).
	Poll time.Duration
	// Logger receives reloads and denied calls.
	Logger *slog.Logger
}

// Identity is a node's certificate, key and trusted CA, kept current.
// It is safe for concurrent use.
type Identity struct {
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[material]
	gen  atomic.Uint64

	mu     sync.Mutex // serialises reloads
	failed [3]stamp   // the files' stamps when a reload last failed
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// material is one loaded set of files.
type material struct {
	cert      tls.Certificate
	principal pki.Principal
	pool      *x509.CertPool
	stamps    [3]stamp
}

// stamp tells whether a file changed.
type stamp struct {
	mod  time.Time
	size int64
}

// Load reads the files and starts watching them. It fails if a file is
// missing or unreadable, the key is not the certificate's, the
// certificate is not signed by the CA, has expired, or names no role.
func Load(opts Options) (*Identity, error) {
	if !opts.Files.Set() {
		return nil, errors.New("tls: no certificate files given")
	}
	if err := opts.Files.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	id := &Identity{opts: opts, log: log.With("component", "tls"), stop: make(chan struct{}), done: make(chan struct{})}
	m, err := load(opts.Files, time.Now())
	if err != nil {
		return nil, err
	}
	id.cur.Store(m)
	id.gen.Add(1)
	poll := opts.Poll
	if poll == 0 {
		poll = DefaultPoll
	}
	if poll > 0 {
		go id.watch(poll)
	} else {
		close(id.done)
	}
	return id, nil
}

// Principal returns the role and name of the current certificate.
func (id *Identity) Principal() pki.Principal { return id.cur.Load().principal }

// Certificate returns the current certificate.
func (id *Identity) Certificate() *x509.Certificate { return id.cur.Load().cert.Leaf }

// Generation counts the pairs loaded so far: 1 after Load, one more per
// successful reload.
func (id *Identity) Generation() uint64 { return id.gen.Load() }

// Files returns the files the identity reads.
func (id *Identity) Files() Files { return id.opts.Files }

// Reload reads the files again and, if they load, uses them for every new
// handshake. On error the current pair stays.
func (id *Identity) Reload() error {
	id.mu.Lock()
	defer id.mu.Unlock()
	m, err := load(id.opts.Files, time.Now())
	if err != nil {
		id.failed, _ = stamps(id.opts.Files)
		return fmt.Errorf("reload certificate: %w", err)
	}
	old := id.cur.Swap(m)
	id.gen.Add(1)
	id.log.Info("certificate reloaded", "principal", m.principal, "serial", m.cert.Leaf.SerialNumber.Text(16),
		"expires", m.cert.Leaf.NotAfter.Format(time.RFC3339), "previous_serial", old.cert.Leaf.SerialNumber.Text(16))
	return nil
}

// Close stops watching the files.
func (id *Identity) Close() {
	if id == nil {
		return
	}
	id.once.Do(func() { close(id.stop) })
	<-id.done
}

func (id *Identity) watch(every time.Duration) {
	defer close(id.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-id.stop:
			return
		case <-t.C:
		}
		now, err := stamps(id.opts.Files)
		if err != nil {
			continue // a file being replaced; look again next time
		}
		id.mu.Lock()
		changed := now != id.cur.Load().stamps && now != id.failed
		id.mu.Unlock()
		if !changed {
			continue
		}
		if err := id.Reload(); err != nil {
			id.log.Error("certificate files changed but do not load; keeping the current certificate", "err", err)
		}
	}
}

func stamps(f Files) ([3]stamp, error) {
	var out [3]stamp
	for i, name := range []string{f.Cert, f.Key, f.CA} {
		st, err := os.Stat(name)
		if err != nil {
			return out, err
		}
		out[i] = stamp{mod: st.ModTime(), size: st.Size()}
	}
	return out, nil
}

func load(f Files, now time.Time) (*material, error) {
	st, err := stamps(f)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tls: CA file %s: no PEM certificate in it", f.CA)
	}
	if err := pki.CheckSecretFile(f.Key); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s and key %s: %w", f.Cert, f.Key, err)
	}
	leaf := pair.Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("tls: certificate %s against CA %s: %w", f.Cert, f.CA, err)
	}
	p, err := pki.PrincipalOf(leaf)
	if err != nil {
		return nil, fmt.Errorf("tls: %s: %w", f.Cert, err)
	}
	return &material{cert: pair, principal: p, pool: pool, stamps: st}, nil
}
