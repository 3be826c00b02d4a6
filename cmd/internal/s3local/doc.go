// Package s3local is the embedded S3 endpoint of `gomr local` and
// `gomr run`: an S3-compatible server (gofakes3, filesystem backend) on
// loopback, so that a local cluster reads and exports s3:// paths with
// the same client and committer as on AWS.
//
// What it owns: the server's lifetime (Start, Close), the folder its
// objects live in (Dir/buckets/BUCKET/KEY, one file per object, and their
// metadata under Dir/metadata, both kept across restarts), the one bucket
// it creates, and the key pair it accepts (random unless given).
//
// Invariants:
//
//   - It listens on loopback only, and serves only requests signed (AWS
//     Signature Version 4) with its key pair (s3.RequireSignature).
//   - The secret key appears in no log line, error or String output.
//   - Completed objects persist in Dir. Multipart uploads still open are
//     held in memory, parts included, and are lost when the server stops:
//     a step committing across a restart of the endpoint fails with "the
//     attempt's output is lost" rather than committing part of it.
package s3local
