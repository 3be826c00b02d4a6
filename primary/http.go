package primary

import (
	"time"

	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/primary/web"
)

// startHTTP serves the status page and metrics on Config.HTTPAddr, if set.
//
// The pages read through the primary's own Client service, called in
// process: on a follower each read is forwarded to the leader, which
// confirms its leadership with a quorum before it answers (verifyLeader),
// as for any client. Reading the follower's own state after asking the
// leader for its commit index would be as fresh, but would miss what only
// the leader holds: the progress and status lines of running attempts,
// and HDFS usage from block reports. Metrics, by contrast, are this
// primary's own view (see package web).
func (s *Server) startHTTP() error {
	if s.cfg.HTTPAddr == "" {
		return nil
	}
	var tokens web.TokenChecker
	if s.cfg.TLS != nil {
		tokens = stateTokens{s}
	}
	srv, err := web.Listen(s.cfg.HTTPAddr, web.Config{
		Tokens: tokens,
		NodeID: s.cfg.NodeID,
		Source: &clientService{s: s},
		View:   func() *state.View { return s.fsm.view() },
		Raft:   s.raft,
		Logger: s.log.With("component", "http"),
	})
	if err != nil {
		return err
	}
	s.http = srv
	return nil
}

// stopHTTP stops serving the status page: at once after a crash, else
// after the requests in flight (for at most a second).
func (s *Server) stopHTTP() {
	if s.http == nil {
		return
	}
	if s.crashed {
		s.http.Close()
	} else {
		s.http.Shutdown(time.Second)
	}
}

// HTTPAddr returns the address of the primary's status page and metrics,
// or "" when it serves none.
func (s *Server) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.Addr()
}
