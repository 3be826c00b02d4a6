package datanode

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/gomr/gomr/hdfs"
)

// The meta file's header: magic, version, chunk size (see the package doc).
const (
	metaMagic      = "GMRM"
	metaVersion    = 1
	metaHeaderSize = 4 + 2 + 4
)

// metaHeader returns the header every meta file starts with.
func metaHeader() []byte {
	b := make([]byte, 0, metaHeaderSize)
	b = append(b, metaMagic...)
	b = binary.BigEndian.AppendUint16(b, metaVersion)
	return binary.BigEndian.AppendUint32(b, hdfs.ChunkSize)
}

// checkMetaHeader checks a meta file's header.
func checkMetaHeader(b []byte) error {
	if len(b) < metaHeaderSize || string(b[:4]) != metaMagic {
		return fmt.Errorf("meta file: bad magic")
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != metaVersion {
		return fmt.Errorf("meta file: version %d, want %d", v, metaVersion)
	}
	if c := binary.BigEndian.Uint32(b[6:]); c != hdfs.ChunkSize {
		return fmt.Errorf("meta file: chunk size %d, want %d", c, hdfs.ChunkSize)
	}
	return nil
}

// readMetaHeader reads and checks the header of an open meta file, and
// checks that the file holds one checksum per chunk of a block of length
// bytes.
func readMetaHeader(f *os.File, length int64) error {
	b := make([]byte, metaHeaderSize)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, metaHeaderSize), b); err != nil {
		return fmt.Errorf("meta file: read header: %w", err)
	}
	if err := checkMetaHeader(b); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("meta file: %w", err)
	}
	if want := metaSize(length); fi.Size() != want {
		return fmt.Errorf("meta file: %d bytes, want %d for a block of %d bytes", fi.Size(), want, length)
	}
	return nil
}

// checkMetaFile checks the meta file at path for a block of length bytes.
func checkMetaFile(path string, length int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return readMetaHeader(f, length)
}

// chunks returns the number of checksum chunks of n bytes.
func chunks(n int64) int64 { return (n + hdfs.ChunkSize - 1) / hdfs.ChunkSize }

// metaSize returns the size of the meta file of a block of length bytes.
func metaSize(length int64) int64 { return metaHeaderSize + 4*chunks(length) }

// sumOffset returns where the checksum of the chunk starting at block
// offset off lies in the meta file.
func sumOffset(off int64) int64 { return metaHeaderSize + 4*(off/hdfs.ChunkSize) }
