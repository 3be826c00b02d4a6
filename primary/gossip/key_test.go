package gossip

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

func startKeyed(t *testing.T, name string, key []byte) *Node {
	t.Helper()
	n, err := Start(Config{Name: name, Addr: "127.0.0.1:0", Meta: Meta{Kind: KindWorker, GRPCAddr: "10.1.2.3:7410"}, Fast: true, SecretKey: key,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	return n
}

func names(n *Node) []string {
	var out []string
	for _, m := range n.Members() {
		out = append(out, m.Name)
	}
	return out
}

// TestGossipKey: members sharing the key form a ring; a member without
// it, or with another key, cannot join, and the ring never lists it.
func TestGossipKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a := startKeyed(t, "a", key)
	b := startKeyed(t, "b", key)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Join(ctx, []string{a.Addr()}); err != nil {
		t.Fatalf("a member with the key: %v", err)
	}
	waitFor(t, "a and b to see each other", func() bool { return len(a.Members()) == 2 && len(b.Members()) == 2 })

	for name, k := range map[string][]byte{"nokey": nil, "otherkey": bytes.Repeat([]byte{8}, 32)} {
		x := startKeyed(t, name, k)
		jctx, jcancel := context.WithTimeout(context.Background(), time.Second)
		err := x.Join(jctx, []string{a.Addr()})
		jcancel()
		if err == nil {
			t.Errorf("%s joined a ring whose key it does not have", name)
		}
		if got := names(x); len(got) != 1 || got[0] != name {
			t.Errorf("%s learnt the members %v", name, got)
		}
	}
	// The ring is still a and b (a rejected join leaves no trace).
	if got := names(a); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("members of a: %v, want [a b]", got)
	}
}

// encryptMsg is memberlist's message type byte of an encrypted message
// (memberlist's net.go: ping 0 ... compress 9, encrypt 10).
const encryptMsg = 10

// TestGossipKeyHidesTraffic: what a keyed member sends to someone who
// asks for its state is ciphertext: an encrypted message, in which
// neither its name nor its metadata appears. The same exchange without a
// key is not encrypted (the control).
func TestGossipKeyHidesTraffic(t *testing.T) {
	for _, keyed := range []bool{true, false} {
		var key []byte
		if keyed {
			key = bytes.Repeat([]byte{7}, 16)
		}
		n := startKeyed(t, "secret-member", key)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			c, err := lis.Accept()
			if err != nil {
				got <- nil
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64<<10)
			k, _ := io.ReadAtLeast(c, buf, 64)
			got <- buf[:k]
		}()
		// The member opens a push-pull exchange with the listener, sending
		// its state first.
		go n.ml.Join([]string{lis.Addr().String()})
		b := <-got
		lis.Close()
		plain := bytes.Contains(b, []byte("secret-member")) || bytes.Contains(b, []byte("10.1.2.3:7410"))
		if len(b) == 0 {
			t.Fatalf("keyed=%v: the member sent nothing", keyed)
		}
		if keyed && (plain || b[0] != encryptMsg) {
			t.Errorf("a keyed member sent something other than ciphertext: %q", b)
		}
		if !keyed && b[0] == encryptMsg {
			t.Errorf("control: without a key the state is not encrypted, got %q", b)
		}
	}
}
