package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/mapreduce"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Counter names of the bytes tasks move through HDFS (Hadoop's).
const (
	BytesReadCounter    = "HDFS_BYTES_READ"
	BytesWrittenCounter = "HDFS_BYTES_WRITTEN"
)

// FS is the client as a mapreduce.FileSystem for hdfs:// paths.
type FS struct{ *Client }

// FileSystem returns the client as a mapreduce.FileSystem.
func (c *Client) FileSystem() FS { return FS{c} }

// statusError is an error of the primaries, with their message, matching
// the file system contract's sentinel of its code.
type statusError struct {
	msg  string
	kind error
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.kind }

// wrapStatus turns the primaries' errors into the file system contract's
// (ErrNotExist, ErrExist), keeping their message.
func wrapStatus(p string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.NotFound:
		return &statusError{msg: st.Message(), kind: mapreduce.ErrNotExist}
	case codes.AlreadyExists:
		return &statusError{msg: st.Message(), kind: mapreduce.ErrExist}
	}
	return errors.New(st.Message())
}

func info(s *hdfspb.FileStatus) mapreduce.FileInfo {
	return mapreduce.FileInfo{Path: namespace.URI(s.Path), Size: s.Length, IsDir: s.IsDir, ModTime: s.MtimeUnixNano, Regular: true, BlockSize: s.BlockSize}
}

// Stat implements mapreduce.FileSystem.
func (f FS) Stat(ctx context.Context, p string) (mapreduce.FileInfo, error) {
	s, err := f.Client.Stat(ctx, p)
	if err != nil {
		return mapreduce.FileInfo{}, err
	}
	return info(s), nil
}

// Stat describes a path.
func (c *Client) Stat(ctx context.Context, p string) (*hdfspb.FileStatus, error) {
	clean, err := namespace.Clean(p)
	if err != nil {
		return nil, err
	}
	resp, err := c.nn.GetFileInfo(ctx, &hdfspb.GetFileInfoRequest{Path: clean})
	if err != nil {
		return nil, wrapStatus(clean, err)
	}
	return resp.Status, nil
}

// List implements mapreduce.FileSystem.
func (f FS) List(ctx context.Context, dir string) ([]mapreduce.FileInfo, error) {
	entries, err := f.Client.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := make([]mapreduce.FileInfo, len(entries))
	for i, e := range entries {
		out[i] = info(e)
	}
	return out, nil
}

// List returns every entry of a folder (a file lists itself), by path.
func (c *Client) List(ctx context.Context, dir string) ([]*hdfspb.FileStatus, error) {
	clean, err := namespace.Clean(dir)
	if err != nil {
		return nil, err
	}
	var out []*hdfspb.FileStatus
	for token := ""; ; {
		resp, err := c.nn.List(ctx, &hdfspb.ListRequest{Path: clean, PageToken: token})
		if err != nil {
			return nil, wrapStatus(clean, err)
		}
		out = append(out, resp.Entries...)
		if token = resp.NextPageToken; token == "" {
			return out, nil
		}
	}
}

// Open implements mapreduce.FileSystem.
func (f FS) Open(ctx context.Context, p string) (mapreduce.File, error) { return f.Client.Open(ctx, p) }

// Create implements mapreduce.FileSystem: a file with the cluster's
// default replication and block size, made with its parent folders.
func (f FS) Create(ctx context.Context, p string) (mapreduce.FileWriter, error) {
	return f.Client.Create(ctx, p, CreateOptions{CreateParent: true})
}

// Rename implements mapreduce.FileSystem.
func (f FS) Rename(ctx context.Context, src, dst string) error { return f.Client.Rename(ctx, src, dst) }

// Rename moves a file or folder (hdfs dfs -mv rules: onto an existing
// folder, into it).
func (c *Client) Rename(ctx context.Context, src, dst string) error {
	s, err := namespace.Clean(src)
	if err != nil {
		return err
	}
	d, err := namespace.Clean(dst)
	if err != nil {
		return err
	}
	if _, err := c.nn.Rename(ctx, &hdfspb.RenameRequest{Src: s, Dst: d}); err != nil {
		return wrapStatus(s, err)
	}
	return nil
}

// Delete implements mapreduce.FileSystem.
func (f FS) Delete(ctx context.Context, p string, recursive bool) error {
	_, err := f.Client.Delete(ctx, p, recursive)
	return err
}

// Delete removes a path; it reports whether there was one.
func (c *Client) Delete(ctx context.Context, p string, recursive bool) (bool, error) {
	clean, err := namespace.Clean(p)
	if err != nil {
		return false, err
	}
	resp, err := c.nn.Delete(ctx, &hdfspb.DeleteRequest{Path: clean, Recursive: recursive})
	if err != nil {
		return false, wrapStatus(clean, err)
	}
	return resp.Deleted, nil
}

// Mkdirs makes a folder (and its parents when parents is set).
func (c *Client) Mkdirs(ctx context.Context, p string, parents bool) error {
	clean, err := namespace.Clean(p)
	if err != nil {
		return err
	}
	if _, err := c.nn.Mkdirs(ctx, &hdfspb.MkdirsRequest{Path: clean, Parents: parents, Owner: c.cfg.Owner}); err != nil {
		return wrapStatus(clean, err)
	}
	return nil
}

// Committer implements mapreduce.FileSystem.
func (f FS) Committer(output, stepID string) (mapreduce.Committer, error) {
	clean, err := namespace.Clean(output)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	return &Committer{c: f.Client, out: clean, stepID: stepID}, nil
}
