package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source answers the reads the pages are made of: the primary's Client
// service (which forwards to the leader and confirms leadership before it
// answers; see the package doc).
type Source interface {
	ListNodes(context.Context, *pb.ListNodesRequest) (*pb.ListNodesResponse, error)
	ListSteps(context.Context, *pb.ListStepsRequest) (*pb.ListStepsResponse, error)
	DescribeStep(context.Context, *pb.DescribeStepRequest) (*pb.DescribeStepResponse, error)
	ListTasks(context.Context, *pb.ListTasksRequest) (*pb.ListTasksResponse, error)
}

// Raft is what the pages and metrics read of the primary's own Raft
// member; *raft.Raft is one.
type Raft interface {
	// Stats returns raft.Raft's statistics: "state", "term",
	// "commit_index", "applied_index", "last_contact"...
	Stats() map[string]string
	// LeaderWithID returns the leader this member knows of, if any.
	LeaderWithID() (raft.ServerAddress, raft.ServerID)
}

// Config configures the status page and metrics of one primary.
type Config struct {
	// NodeID is the primary's id.
	NodeID string
	// Source answers the pages' reads.
	Source Source
	// View returns the primary's replicated state as applied now (for
	// /metrics).
	View func() *state.View
	// Raft is the primary's Raft member.
	Raft Raft
	// PageSize is how many steps (and tasks) one page lists (100).
	PageSize int
	// Refresh is how often a page reloads itself (5s); negative: never.
	Refresh time.Duration
	// Timeout bounds the reads of one page (10s).
	Timeout time.Duration
	// Now returns the time running steps and attempts are measured to
	// (time.Now).
	Now func() time.Time
	// Tokens, when set, checks the token every request must carry (a
	// bearer token, or the cookie the sign-in page sets): the status
	// page of a cluster with TLS shows nothing to a caller without a
	// token of role read or above. Nil: the pages are open.
	Tokens TokenChecker
	// Logger receives errors serving pages.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultPageSize = 100
	DefaultRefresh  = 5 * time.Second
	DefaultTimeout  = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Refresh == 0 {
		c.Refresh = DefaultRefresh
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// NewHandler returns the HTTP handler of the pages and /metrics.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Source == nil || cfg.View == nil || cfg.Raft == nil {
		return nil, errors.New("status page: source, view and raft are required")
	}
	cfg = cfg.withDefaults()
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewCollector(cfg.NodeID, cfg.View, cfg.Raft)); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	p := &pages{cfg: cfg}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	if cfg.Tokens != nil {
		r.Use(p.requireToken)
		r.Get("/login", p.login)
		r.Post("/login", p.login)
	}
	r.Get("/", p.overview)
	r.Get("/steps/{id}", p.step)
	r.Get("/steps/{id}/attempts/{attempt}/logs", p.attemptLogs)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError,
	}))
	r.NotFound(p.notFound)
	return r, nil
}

// Server serves the handler on one listener.
type Server struct {
	srv  *http.Server
	lis  net.Listener
	done chan struct{}
	log  *slog.Logger
}

// Listen binds addr and serves the status page and metrics on it.
func Listen(addr string, cfg Config) (*Server, error) {
	h, err := NewHandler(cfg)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status page: listen on %s: %w", addr, err)
	}
	s := &Server{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		lis:  lis,
		done: make(chan struct{}),
		log:  cfg.withDefaults().Logger,
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("status page server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Shutdown stops accepting requests and waits, up to timeout, for those in
// flight; then it closes what is left.
func (s *Server) Shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}

// Close stops the server at once.
func (s *Server) Close() {
	s.srv.Close()
	<-s.done
}
