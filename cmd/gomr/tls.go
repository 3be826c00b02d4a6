package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/pki"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// addTLSFlags adds the certificate flags of a node or a client.
func addTLSFlags(f *pflag.FlagSet) {
	f.String("tls-cert", "", "this node's or user's certificate (PEM), issued by gomr cert issue; with --tls-key and --tls-ca turns on mutual TLS (env GOMR_TLS_CERT)")
	f.String("tls-key", "", "private key of --tls-cert (PEM; env GOMR_TLS_KEY)")
	f.String("tls-ca", "", "the cluster CA certificate (PEM, ca.crt of gomr cert init; env GOMR_TLS_CA)")
}

// addGossipKeyFlag adds --gossip-key, of primaries and workers.
func addGossipKeyFlag(f *pflag.FlagSet) {
	f.String("gossip-key", "", "gossip encryption key: base64 of 16, 24 or 32 bytes, or @FILE to read it (gossip.key of gomr cert init); every node needs the same (env GOMR_GOSSIP_KEY)")
}

// tlsFiles reads the certificate flags.
func tlsFiles(v *viper.Viper) mtls.Files {
	return mtls.Files{Cert: v.GetString("tls-cert"), Key: v.GetString("tls-key"), CA: v.GetString("tls-ca")}
}

// loadTLS loads the identity the flags name; nil, nil when they name
// none. A node watches its files (watch), a one-shot client does not.
func loadTLS(v *viper.Viper, log *slog.Logger, watch bool) (*mtls.Identity, error) {
	files := tlsFiles(v)
	if !files.Set() {
		return nil, nil
	}
	poll := mtls.DefaultPoll
	if !watch {
		poll = -1
	}
	id, err := mtls.Load(mtls.Options{Files: files, Poll: poll, Logger: log})
	if err != nil {
		return nil, err
	}
	return id, nil
}

// nodeSecurity loads a node's certificate and gossip key, checks that the
// certificate is of the node's role, reloads it on SIGHUP until ctx ends,
// and warns loudly about what is left in the clear.
func nodeSecurity(ctx context.Context, v *viper.Viper, log *slog.Logger, role pki.Role) (*mtls.Identity, []byte, error) {
	id, err := loadTLS(v, log, true)
	if err != nil {
		return nil, nil, err
	}
	if id != nil {
		if p := id.Principal(); p.Role != role {
			id.Close()
			return nil, nil, fmt.Errorf("--tls-cert %s is a %s certificate (%s); a %s needs one issued with gomr cert issue --role %s", tlsFiles(v).Cert, p.Role, p, role, role)
		}
		go reloadOnSIGHUP(ctx, id, log)
		log.Info("mutual TLS on", "principal", id.Principal(), "expires", id.Certificate().NotAfter)
	} else {
		log.Warn("TLS IS OFF: this node's connections are plaintext and unauthenticated, and any process that can reach its ports can act on the cluster. " +
			"Create a CA with gomr cert init, issue certificates with gomr cert issue and start every node with --tls-cert, --tls-key and --tls-ca")
	}
	key, err := gossipKey(v)
	if err != nil {
		id.Close()
		return nil, nil, err
	}
	if key == nil {
		log.Warn("GOSSIP IS NOT ENCRYPTED: membership traffic is readable and any process can join the ring; give every node the same --gossip-key (gomr cert init writes one)")
	}
	return id, key, nil
}

// gossipKey reads --gossip-key: base64, or @FILE holding it.
func gossipKey(v *viper.Viper) ([]byte, error) {
	s := strings.TrimSpace(v.GetString("gossip-key"))
	if s == "" {
		return nil, nil
	}
	if file, ok := strings.CutPrefix(s, "@"); ok {
		b, err := pki.ReadSecretFile(file)
		if err != nil {
			return nil, fmt.Errorf("--gossip-key: %w", err)
		}
		s = string(b)
	}
	k, err := pki.ParseGossipKey(s)
	if err != nil {
		return nil, fmt.Errorf("--gossip-key: %w", err)
	}
	return k, nil
}

// reloadOnSIGHUP reloads the certificate files on each SIGHUP.
func reloadOnSIGHUP(ctx context.Context, id *mtls.Identity, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			if err := id.Reload(); err != nil {
				log.Error("SIGHUP: certificate not reloaded; keeping the current one", "err", err)
			}
		}
	}
}

// localClientFile is where gomr local leaves, for the client commands of
// the same user, which client certificate and token its cluster at addr
// takes: so that "gomr local" in one terminal and "gomr step add" in
// another still work with no flags. It is removed when the cluster
// stops. It holds a token, so it is the user's only (mode 0600).
func localClientFile(addr string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "gomr", "local", strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(addr)+".json"), nil
}

// localClientRecord is what gomr local records for its clients.
type localClientRecord struct {
	mtls.Files
	Token string
}

// saveLocalClient records the client certificate and token of a local
// cluster at addr and returns the function that removes the record.
func saveLocalClient(addr string, rec localClientRecord, log *slog.Logger) func() {
	file, err := localClientFile(addr)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(rec); err == nil {
			if err = os.MkdirAll(filepath.Dir(file), 0o700); err == nil {
				err = pki.WriteSecretFile(file, b)
			}
		}
	}
	if err != nil {
		log.Warn("client commands will need the certificate and token flags: cannot record the local cluster's client certificate", "err", err)
		return func() {}
	}
	return func() { os.Remove(file) }
}

// localClient returns the client certificate and token a local cluster
// at addr recorded, if it did and its files are still there.
func localClient(addr string) (localClientRecord, bool) {
	file, err := localClientFile(addr)
	if err != nil {
		return localClientRecord{}, false
	}
	b, err := pki.ReadSecretFile(file)
	if err != nil {
		return localClientRecord{}, false
	}
	var rec localClientRecord
	if json.Unmarshal(b, &rec) != nil || rec.Validate() != nil || !rec.Set() {
		return localClientRecord{}, false
	}
	for _, name := range []string{rec.Cert, rec.Key, rec.CA} {
		if _, err := os.Stat(name); err != nil {
			return localClientRecord{}, false
		}
	}
	return rec, true
}
