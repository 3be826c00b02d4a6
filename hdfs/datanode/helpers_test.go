package datanode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var quiet = slog.New(slog.DiscardHandler)

// openStore opens a store in dir, closed when the test ends.
func openStore(t *testing.T, dir, worker string) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, Worker: worker, Logger: quiet})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// conns is a test's connection cache.
type conns struct {
	mu sync.Mutex
	m  map[string]*grpc.ClientConn
}

func newConns(t *testing.T) *conns {
	c := &conns{m: map[string]*grpc.ClientConn{}}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, cc := range c.m {
			cc.Close()
		}
	})
	return c
}

func (c *conns) dial(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.m[addr]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	c.m[addr] = cc
	return cc, nil
}

// node is a core worker's DataNode service on loopback.
type node struct {
	id     string
	store  *Store
	addr   string
	client hdfspb.DataNodeClient
}

func (n *node) loc() *hdfspb.Location { return &hdfspb.Location{Worker: n.id, Address: n.addr} }

// serve serves srv on a loopback port until the test ends, and returns
// the address and a client of it.
func serve(t *testing.T, cs *conns, srv hdfspb.DataNodeServer) (string, hdfspb.DataNodeClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hdfspb.RegisterDataNodeServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	cc, err := cs.dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return lis.Addr().String(), hdfspb.NewDataNodeClient(cc)
}

// startNode starts a core worker's service with its own store.
func startNode(t *testing.T, id string, bandwidth int64) *node {
	t.Helper()
	store := openStore(t, t.TempDir(), id)
	cs := newConns(t)
	srv, err := NewServer(ServerConfig{Store: store, Dial: cs.dial, TransferBandwidth: bandwidth, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	addr, client := serve(t, cs, srv)
	return &node{id: id, store: store, addr: addr, client: client}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sumsOf(data []byte) []uint32 {
	var c hdfs.Checksummer
	c.Write(data)
	return c.Sums()
}

// messages splits data into write messages of size bytes with their sums.
func messages(data []byte, size int) []*hdfspb.WriteBlockRequest {
	var out []*hdfspb.WriteBlockRequest
	for len(data) > 0 {
		n := min(size, len(data))
		out = append(out, &hdfspb.WriteBlockRequest{Data: data[:n], Sums: sumsOf(data[:n])})
		data = data[n:]
	}
	return out
}

func header(id int64, length int64, pipeline ...*node) *hdfspb.WriteBlockHeader {
	h := &hdfspb.WriteBlockHeader{Block: &hdfspb.Block{Id: id, Length: length}, Reason: ReasonClient}
	for _, n := range pipeline {
		h.Pipeline = append(h.Pipeline, n.loc())
	}
	return h
}

// send writes a block: the header alone, then msgs.
func send(t *testing.T, c hdfspb.DataNodeClient, h *hdfspb.WriteBlockHeader, msgs []*hdfspb.WriteBlockRequest) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := c.WriteBlock(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range append([]*hdfspb.WriteBlockRequest{{Header: h}}, msgs...) {
		if err := stream.Send(m); err == io.EOF {
			break // the server ended the stream: CloseAndRecv says why
		} else if err != nil {
			return nil, err
		}
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetStored(), err
}

// writeBlock writes data as block id through the pipeline of nodes.
func writeBlock(t *testing.T, id int64, data []byte, pipeline ...*node) ([]string, error) {
	t.Helper()
	return send(t, pipeline[0].client, header(id, int64(len(data)), pipeline[1:]...), messages(data, messageSize))
}

// readBlock reads a range of a block, verifying every message's sums, and
// returns the range and the first message's chunk offset and block length.
func readBlock(t *testing.T, c hdfspb.DataNodeClient, id, off, length int64) ([]byte, int64, int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := c.ReadBlock(ctx, &hdfspb.ReadBlockRequest{BlockId: id, Offset: off, Length: length})
	if err != nil {
		return nil, 0, 0, err
	}
	var buf []byte
	var chunkOff, blockLen int64
	for first := true; ; first = false {
		m, err := stream.Recv()
		if err == io.EOF {
			if first {
				return nil, 0, 0, fmt.Errorf("no message")
			}
			break
		}
		if err != nil {
			return nil, 0, 0, err
		}
		if first {
			chunkOff, blockLen = m.ChunkOffset, m.BlockLength
		}
		if len(m.Data) > messageSize {
			return nil, 0, 0, fmt.Errorf("message of %d bytes", len(m.Data))
		}
		v := hdfs.NewVerifier(m.Sums)
		if _, err := v.Write(m.Data); err != nil {
			return nil, 0, 0, fmt.Errorf("verify: %w", err)
		}
		if err := v.Close(); err != nil {
			return nil, 0, 0, fmt.Errorf("verify: %w", err)
		}
		buf = append(buf, m.Data...)
	}
	end := blockLen
	if length > 0 {
		end = off + length
	}
	if end == off {
		return []byte{}, chunkOff, blockLen, nil
	}
	if off < chunkOff || int64(len(buf)) < end-chunkOff {
		return nil, 0, 0, fmt.Errorf("got %d bytes from chunk offset %d, want [%d, %d)", len(buf), chunkOff, off, end)
	}
	return buf[off-chunkOff : end-chunkOff], chunkOff, blockLen, nil
}

// putBlock stores data as block id directly in a store.
func putBlock(t *testing.T, s *Store, id int64, data []byte) {
	t.Helper()
	w, err := s.Create(id, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range messages(data, 3*hdfs.ChunkSize) {
		if err := w.Write(m.Data, m.Sums); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
}

// flipByte corrupts one byte of a finalized replica on disk.
func flipByte(t *testing.T, s *Store, id, off int64) {
	t.Helper()
	f, err := os.OpenFile(s.dataPath(id), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// rbwEntries lists a store's rbw folder.
func rbwEntries(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), rbwDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// eventually polls cond until it holds or 10 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
