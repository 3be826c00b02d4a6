package s3local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"

	"github.com/gomr/gomr/mapreduce/s3"
	"github.com/gomr/gomr/primary/pki"
)

// DefaultBucket is the bucket Start creates when Config names none.
const DefaultBucket = "gomr"

// Config says where the endpoint keeps its objects and listens.
type Config struct {
	// Dir holds the objects (Dir/buckets/BUCKET/KEY) and their metadata
	// (Dir/metadata); it is created if missing.
	Dir string
	// Addr is the loopback address to listen on (default "127.0.0.1:0",
	// a free port).
	Addr string
	// Bucket is created if it does not exist (default DefaultBucket).
	Bucket string
	// AccessKey and SecretKey are the only credentials the endpoint
	// accepts; random ones are made when both are empty.
	AccessKey, SecretKey string
	// Logger receives the server's log lines (default slog.Default()).
	Logger *slog.Logger
}

// String describes the configuration without its secret.
func (c Config) String() string {
	return fmt.Sprintf("s3local{dir=%s addr=%s bucket=%s secret-key=REDACTED}", c.Dir, c.Addr, c.Bucket)
}

// GoString is String, so that %#v does not print the secret.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Server is a running endpoint.
type Server struct {
	cfg  Config
	url  string
	ln   net.Listener
	http *http.Server
	done chan error
	log  *slog.Logger
}

// Start serves an S3-compatible endpoint on loopback, with its objects on
// disk under cfg.Dir and cfg.Bucket created.
func Start(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("s3local: no folder for the objects (Config.Dir)")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if _, _, err := s3.ParseURI("s3://" + cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3local: %w", err)
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3local: an access key needs its secret key and the other way round")
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey, cfg.SecretKey = "GOMRLOCAL"+rand.Text()[:12], rand.Text()+rand.Text()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("component", "s3local")
	if err := checkLoopback(cfg.Addr); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("s3local: folder %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("s3local: folder %s: %w", dir, err)
	}
	files, err := s3afero.MultiBucket(afero.NewBasePathFs(afero.NewOsFs(), dir))
	if err != nil {
		return nil, fmt.Errorf("s3local: store in %s: %w", dir, err)
	}
	backend := &backend{MultiBucketBackend: files, root: filepath.Join(dir, "buckets")}
	if ok, err := backend.BucketExists(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3local: bucket %s in %s: %w", cfg.Bucket, dir, err)
	} else if !ok {
		if err := backend.CreateBucket(cfg.Bucket); err != nil {
			return nil, fmt.Errorf("s3local: create bucket %s in %s: %w", cfg.Bucket, dir, err)
		}
	}
	fake := gofakes3.New(backend,
		gofakes3.WithAutoBucket(false),
		gofakes3.WithLogger(slogLogger{log}),
		gofakes3.WithTimeSkewLimit(15*time.Minute),
	)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("s3local: listen on %s: %w", cfg.Addr, err)
	}
	cfg.Dir = dir
	if err := pki.WriteSecretFile(filepath.Join(dir, CredentialsFile), fmt.Appendf(nil, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", Profile, cfg.AccessKey, cfg.SecretKey)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("s3local: %w", err)
	}
	s := &Server{
		cfg: cfg, ln: ln, url: "http://" + ln.Addr().String(), done: make(chan error, 1), log: log,
		http: &http.Server{
			Handler:           s3.RequireSignature(fake.Server(), cfg.AccessKey, cfg.SecretKey),
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
	go func() { s.done <- s.http.Serve(ln) }()
	log.Info("s3 endpoint started", "url", s.url, "bucket", cfg.Bucket, "dir", dir)
	return s, nil
}

// CredentialsFile is the file, in Config.Dir, that holds the endpoint's
// credentials as an AWS shared credentials file (mode 0600), under
// profile Profile: clients are pointed at it rather than shown the
// secret.
const CredentialsFile = "credentials"

// Profile is the profile of CredentialsFile.
const Profile = "gomr-local"

// CredentialsFile returns the path of the endpoint's credentials file.
func (s *Server) CredentialsFile() string { return filepath.Join(s.cfg.Dir, CredentialsFile) }

// checkLoopback refuses addresses that are not on loopback: the endpoint
// speaks plain HTTP.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("s3local: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("s3local: address %q is not on loopback (127.0.0.1, ::1 or localhost); the endpoint speaks plain HTTP", addr)
	}
	return nil
}

// URL is the endpoint's URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return s.url }

// Bucket is the bucket Start created.
func (s *Server) Bucket() string { return s.cfg.Bucket }

// AccessKey is the access key the endpoint accepts.
func (s *Server) AccessKey() string { return s.cfg.AccessKey }

// SecretKey is the secret key the endpoint accepts.
func (s *Server) SecretKey() string { return s.cfg.SecretKey }

// Dir is the folder holding the objects.
func (s *Server) Dir() string { return s.cfg.Dir }

// S3Config is the client configuration of the endpoint, for s3.New.
func (s *Server) S3Config() s3.Config {
	return s3.Config{Endpoint: s.url, Region: "us-east-1", PathStyle: true, AccessKey: s.cfg.AccessKey, SecretKey: s.cfg.SecretKey, Logger: s.cfg.Logger}
}

// String names the endpoint, never the secret.
func (s *Server) String() string { return "s3local " + s.url + " bucket " + s.cfg.Bucket }

// Close stops the endpoint, waiting a few seconds for requests in flight.
// Objects stay on disk; multipart uploads still open are lost.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.http.Close())
	}
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	s.done <- http.ErrServerClosed // a second Close returns at once
	if err != nil {
		return fmt.Errorf("s3local: close %s: %w", s.url, err)
	}
	s.log.Info("s3 endpoint stopped", "url", s.url)
	return nil
}

// slogLogger adapts gofakes3's logging to slog, at debug for its chatty
// info lines.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Print(level gofakes3.LogLevel, v ...any) {
	lv := slog.LevelDebug
	switch level {
	case gofakes3.LogErr:
		lv = slog.LevelWarn
	case gofakes3.LogWarn:
		lv = slog.LevelInfo
	}
	if !l.log.Enabled(context.Background(), lv) {
		return
	}
	l.log.Log(context.Background(), lv, fmt.Sprintln(v...))
}
