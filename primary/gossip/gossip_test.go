package gossip

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu     sync.Mutex
	joined []Member
	left   []string
}

func (r *recorder) Joined(m Member) { r.mu.Lock(); r.joined = append(r.joined, m); r.mu.Unlock() }
func (r *recorder) Left(name string, _ Meta) {
	r.mu.Lock()
	r.left = append(r.left, name)
	r.mu.Unlock()
}

func start(t *testing.T, name string, meta Meta, ev Events) *Node {
	t.Helper()
	n, err := Start(Config{Name: name, Addr: "127.0.0.1:0", Meta: meta, Events: ev, Fast: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMembersCarryMetadata joins a worker to a primary and checks that each
// sees the other's decoded metadata, that a metadata update spreads, and
// that a member that leaves is reported.
func TestMembersCarryMetadata(t *testing.T) {
	events := &recorder{}
	p := start(t, "p1", Meta{Kind: KindPrimary, GRPCAddr: "127.0.0.1:7400", RaftAddr: "127.0.0.1:7401"}, events)
	w := start(t, "w1", Meta{Kind: KindWorker, Role: "core", GRPCAddr: "127.0.0.1:7410", Slots: 2, Incarnation: 5}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Join(ctx, []string{p.Addr()}); err != nil {
		t.Fatal(err)
	}
	worker := func() Meta {
		for _, m := range p.Members() {
			if m.Name == "w1" {
				return m.Meta
			}
		}
		return Meta{}
	}
	waitFor(t, "the worker in the primary's member list", func() bool { return worker().Incarnation == 5 })
	if got := worker(); got != (Meta{Kind: KindWorker, Role: "core", GRPCAddr: "127.0.0.1:7410", Slots: 2, Incarnation: 5}) {
		t.Fatalf("worker metadata %+v", got)
	}
	if got := w.Members(); len(got) != 2 || got[0].Name != "p1" || got[0].Meta.RaftAddr != "127.0.0.1:7401" {
		t.Fatalf("worker's members %+v", got)
	}
	if err := w.UpdateMeta(Meta{Kind: KindWorker, Role: "core", GRPCAddr: "127.0.0.1:7410", Slots: 2, Incarnation: 6}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new incarnation", func() bool { return worker().Incarnation == 6 })
	if err := w.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leave event", func() bool {
		events.mu.Lock()
		defer events.mu.Unlock()
		return len(events.left) == 1 && events.left[0] == "w1"
	})
	if got := worker(); got != (Meta{}) {
		t.Fatalf("a member that left is still listed: %+v", got)
	}
}

func TestLogWriterMapsLevels(t *testing.T) {
	var records []slog.Record
	h := &captureHandler{records: &records}
	lw := LogWriter(slog.New(h))
	lw.Write([]byte("2026-11-25T23:00:00Z [ERROR] raft: failed to contact peer\n"))
	lw.Write([]byte("[DEBUG] memberlist: probing\n"))
	if len(records) != 2 || records[0].Level != slog.LevelInfo || records[0].Message != "raft: failed to contact peer" ||
		records[1].Level != slog.LevelDebug || records[1].Message != "memberlist: probing" {
		t.Fatalf("records %+v", records)
	}
}

type captureHandler struct{ records *[]slog.Record }

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	*h.records = append(*h.records, r)
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }
