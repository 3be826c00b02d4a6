package datanode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func statusCode(err error) string { return status.Code(err).String() }

func TestWriteReadRoundTrip(t *testing.T) {
	n := startNode(t, "w1", 0)
	sizes := []int{0, 1, 511, 512, 513, 3<<20 + 77}
	for i, size := range sizes {
		id := int64(i + 1)
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randomBytes(size, uint64(id))
			stored, err := writeBlock(t, id, data, n)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if !slices.Equal(stored, []string{"w1"}) {
				t.Errorf("stored = %v", stored)
			}
			type rng struct{ off, length int64 }
			ranges := []rng{{0, 0}, {0, 1}, {1, 0}, {511, 2}, {513, 1000}, {int64(size) - 1, 1},
				{int64(size) / 3, int64(size) / 2}, {int64(size), 0}, {70000, 200001}}
			for _, r := range ranges {
				end := r.off + r.length
				if r.length == 0 {
					end = int64(size)
				}
				if r.off < 0 || r.off > int64(size) || end > int64(size) || (r.length > 0 && r.off >= int64(size)) {
					continue
				}
				got, chunkOff, blockLen, err := readBlock(t, n.client, id, r.off, r.length)
				if err != nil {
					t.Errorf("read %v: %v", r, err)
					continue
				}
				if !bytes.Equal(got, data[r.off:end]) {
					t.Errorf("read %v: data differs", r)
				}
				if chunkOff != r.off/512*512 || blockLen != int64(size) {
					t.Errorf("read %v: chunk offset %d, block length %d", r, chunkOff, blockLen)
				}
			}
		})
	}
	if got := blockIDs(n.store.Blocks()); len(got) != len(sizes) {
		t.Errorf("Blocks = %v", got)
	}
}

func TestWriteDataInHeaderMessage(t *testing.T) {
	n := startNode(t, "w1", 0)
	data := randomBytes(3000, 1)
	msgs := messages(data, 1024)
	h := header(1, 0) // as a client sends a newly allocated block
	msgs[0].Header = h
	ctx := context.Background()
	stream, err := n.client.WriteBlock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if got, _, _, err := readBlock(t, n.client, 1, 0, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
}

func TestPipeline(t *testing.T) {
	n1, n2, n3 := startNode(t, "w1", 0), startNode(t, "w2", 0), startNode(t, "w3", 0)
	data := randomBytes(1<<20+3, 9)
	stored, err := writeBlock(t, 42, data, n1, n2, n3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stored, []string{"w1", "w2", "w3"}) {
		t.Errorf("stored = %v, want [w1 w2 w3]", stored)
	}
	for _, n := range []*node{n1, n2, n3} {
		if !n.store.Has(42) {
			t.Errorf("%s lacks the block", n.id)
		}
		if got, _, _, err := readBlock(t, n.client, 42, 0, 0); err != nil || !bytes.Equal(got, data) {
			t.Errorf("read from %s: %v", n.id, err)
		}
	}
}

func TestPipelineDownstreamDown(t *testing.T) {
	n1, n2 := startNode(t, "w1", 0), startNode(t, "w2", 0)
	dead := &node{id: "w3", addr: deadAddr(t)}
	_, err := writeBlock(t, 1, randomBytes(300<<10, 1), n1, n2, dead)
	if err == nil {
		t.Fatal("write through a dead worker succeeded")
	}
	t.Logf("error: %v", err)
	if code := status.Code(err); code != codes.Unavailable {
		t.Errorf("code %v, want Unavailable: %v", code, err)
	}
	if w, ok := FailedWorker(err); !ok || w != "w3" {
		t.Errorf("FailedWorker = %q, %v; want w3: %v", w, ok, err)
	}
	for _, n := range []*node{n1, n2} {
		if n.store.Has(1) || len(rbwEntries(t, n.store)) != 0 {
			t.Errorf("%s kept a replica: blocks %v, rbw %v", n.id, n.store.Blocks(), rbwEntries(t, n.store))
		}
	}
}

func TestPipelineDownstreamRefuses(t *testing.T) {
	n1, n2, n3 := startNode(t, "w1", 0), startNode(t, "w2", 0), startNode(t, "w3", 0)
	old := randomBytes(100, 2)
	putBlock(t, n3.store, 1, old)
	_, err := writeBlock(t, 1, randomBytes(200<<10, 1), n1, n2, n3)
	if code := status.Code(err); code != codes.AlreadyExists {
		t.Fatalf("code %v, want AlreadyExists: %v", code, err)
	}
	t.Logf("error: %v", err)
	if w, ok := FailedWorker(err); !ok || w != "w3" {
		t.Errorf("FailedWorker = %q, %v; want w3", w, ok)
	}
	for _, n := range []*node{n1, n2} {
		if n.store.Has(1) || len(rbwEntries(t, n.store)) != 0 {
			t.Errorf("%s kept a replica", n.id)
		}
	}
	if got, _, _, err := readBlock(t, n3.client, 1, 0, 0); err != nil || !bytes.Equal(got, old) {
		t.Errorf("w3's own replica: %v", err)
	}
}

func TestWriteBadSums(t *testing.T) {
	n1, n2 := startNode(t, "w1", 0), startNode(t, "w2", 0)
	data := randomBytes(200<<10, 3)
	cases := map[string]func([]*hdfspb.WriteBlockRequest){
		"flipped sum":  func(m []*hdfspb.WriteBlockRequest) { m[1].Sums[5] ^= 1 },
		"flipped data": func(m []*hdfspb.WriteBlockRequest) { m[2].Data = append([]byte{m[2].Data[0] ^ 1}, m[2].Data[1:]...) },
		"missing sum":  func(m []*hdfspb.WriteBlockRequest) { m[0].Sums = m[0].Sums[1:] },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			msgs := messages(data, messageSize)
			spoil(msgs)
			_, err := send(t, n1.client, header(1, int64(len(data)), n2), msgs)
			if code := status.Code(err); code != codes.DataLoss {
				t.Fatalf("code %v, want DataLoss: %v", code, err)
			}
			if w, ok := FailedWorker(err); ok {
				t.Errorf("the writer's bad data blamed on %s", w)
			}
			if n1.store.Has(1) || len(rbwEntries(t, n1.store)) != 0 {
				t.Error("w1 kept a replica")
			}
			// w2 drops its part when w1 cancels its stream.
			eventually(t, "w2 to drop its partial replica", func() bool {
				return !n2.store.Has(1) && len(rbwEntries(t, n2.store)) == 0
			})
		})
	}
	// Data not in whole chunks before the last message.
	msgs := messages(data, 1000)
	_, err := send(t, n1.client, header(1, int64(len(data))), msgs)
	if code := status.Code(err); code != codes.InvalidArgument {
		t.Errorf("ragged chunks: code %v, want InvalidArgument: %v", code, err)
	}
	// More or fewer bytes than announced.
	_, err = send(t, n1.client, header(1, 10), messages(data[:512], 512))
	if code := status.Code(err); code != codes.InvalidArgument {
		t.Errorf("too long: code %v, want InvalidArgument: %v", code, err)
	}
	_, err = send(t, n1.client, header(1, 1000), messages(data[:512], 512))
	if code := status.Code(err); code != codes.InvalidArgument {
		t.Errorf("too short: code %v, want InvalidArgument: %v", code, err)
	}
	if n1.store.Has(1) || len(rbwEntries(t, n1.store)) != 0 {
		t.Error("w1 kept a replica")
	}
}

func TestServerErrors(t *testing.T) {
	n := startNode(t, "w1", 0)
	putBlock(t, n.store, 1, randomBytes(1000, 1))
	if _, _, _, err := readBlock(t, n.client, 2, 0, 0); status.Code(err) != codes.NotFound {
		t.Errorf("read of a missing block: %v, want NotFound", err)
	}
	if _, _, _, err := readBlock(t, n.client, 1, 999, 5); status.Code(err) != codes.OutOfRange {
		t.Errorf("read past the end: %v, want OutOfRange", err)
	}
	if _, err := writeBlock(t, 1, randomBytes(10, 1), n); status.Code(err) != codes.AlreadyExists {
		t.Errorf("write of a stored block: %v, want AlreadyExists", err)
	}
	if _, err := send(t, n.client, nil, nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("write without header: %v, want InvalidArgument", err)
	}
	self := header(3, 0)
	self.Pipeline = []*hdfspb.Location{n.loc()}
	if _, err := send(t, n.client, self, nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("pipeline naming the worker again: %v, want InvalidArgument", err)
	}
	ctx := context.Background()
	_, err := n.client.TransferBlock(ctx, &hdfspb.TransferBlockRequest{Block: &hdfspb.Block{Id: 2}, Targets: []*hdfspb.Location{{Worker: "x", Address: "127.0.0.1:1"}}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("transfer of a missing block: %v, want NotFound", err)
	}
	_, err = n.client.TransferBlock(ctx, &hdfspb.TransferBlockRequest{Block: &hdfspb.Block{Id: 1, Length: 5}, Targets: []*hdfspb.Location{{Worker: "x", Address: "127.0.0.1:1"}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("transfer with the wrong length: %v, want InvalidArgument", err)
	}
}

func TestTransferBlock(t *testing.T) {
	n1, n2, n3 := startNode(t, "w1", 0), startNode(t, "w2", 0), startNode(t, "w3", 0)
	data := randomBytes(300<<10+1, 5)
	putBlock(t, n1.store, 8, data)
	_, err := n1.client.TransferBlock(context.Background(), &hdfspb.TransferBlockRequest{
		Block:   &hdfspb.Block{Id: 8, Length: int64(len(data))},
		Targets: []*hdfspb.Location{n2.loc(), n3.loc()},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{n2, n3} {
		if got, _, _, err := readBlock(t, n.client, 8, 0, 0); err != nil || !bytes.Equal(got, data) {
			t.Errorf("copy on %s: %v", n.id, err)
		}
	}

	// A corrupt replica is not copied.
	putBlock(t, n1.store, 9, data)
	flipByte(t, n1.store, 9, 200<<10)
	_, err = n1.client.TransferBlock(context.Background(), &hdfspb.TransferBlockRequest{
		Block:   &hdfspb.Block{Id: 9, Length: int64(len(data))},
		Targets: []*hdfspb.Location{n2.loc()},
	})
	if status.Code(err) != codes.DataLoss {
		t.Errorf("transfer of a corrupt replica: %v, want DataLoss", err)
	}
	eventually(t, "w2 to drop the partial copy", func() bool {
		return !n2.store.Has(9) && len(rbwEntries(t, n2.store)) == 0
	})
	if !n1.store.Corrupt(9) {
		t.Error("the corrupt replica is not marked")
	}
}

func TestTransferThrottled(t *testing.T) {
	const bandwidth = 128 << 10
	const size = 256 << 10
	n1, n2 := startNode(t, "w1", bandwidth), startNode(t, "w2", 0)
	putBlock(t, n1.store, 1, randomBytes(size, 1))
	start := time.Now()
	_, err := n1.client.TransferBlock(context.Background(), &hdfspb.TransferBlockRequest{
		Block:   &hdfspb.Block{Id: 1, Length: size},
		Targets: []*hdfspb.Location{n2.loc()},
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if min := time.Duration(size) * time.Second / bandwidth / 2; took < min {
		t.Errorf("transfer of %d bytes at %d B/s took %v, want at least %v", size, bandwidth, took, min)
	}
	if !n2.store.Has(1) {
		t.Error("no copy")
	}
}

func TestRefuse(t *testing.T) {
	_, c := serve(t, newConns(t), Refuse())
	check := func(method string, err error) {
		t.Helper()
		st, _ := status.FromError(err)
		if st.Code() != codes.FailedPrecondition || st.Message() != RefusedMessage {
			t.Errorf("%s: %v, want FailedPrecondition %q", method, err, RefusedMessage)
		}
	}
	_, err := send(t, c, header(1, 3), messages([]byte("abc"), 512))
	check("WriteBlock", err)

	stream, err := c.ReadBlock(context.Background(), &hdfspb.ReadBlockRequest{BlockId: 1})
	if err == nil {
		_, err = stream.Recv()
	}
	if err == io.EOF {
		err = nil
	}
	check("ReadBlock", err)

	_, err = c.TransferBlock(context.Background(), &hdfspb.TransferBlockRequest{Block: &hdfspb.Block{Id: 1}})
	check("TransferBlock", err)
}

func TestWriteStreamBroken(t *testing.T) {
	n1, n2 := startNode(t, "w1", 0), startNode(t, "w2", 0)
	data := randomBytes(300<<10, 4)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := n1.client.WriteBlock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msgs := messages(data, messageSize)
	if err := stream.Send(&hdfspb.WriteBlockRequest{Header: header(1, int64(len(data)), n2)}); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs[:2] {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the partial replicas to be written", func() bool {
		return len(rbwEntries(t, n1.store)) == 2 && len(rbwEntries(t, n2.store)) == 2
	})
	cancel() // the writer dies mid-block
	for _, n := range []*node{n1, n2} {
		eventually(t, n.id+" to drop its partial replica", func() bool {
			return !n.store.Has(1) && len(rbwEntries(t, n.store)) == 0
		})
	}
	// The block can be written again.
	if stored, err := writeBlock(t, 1, data, n1, n2); err != nil || len(stored) != 2 {
		t.Fatalf("write after the broken one: %v, %v", stored, err)
	}
}
