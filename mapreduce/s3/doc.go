// Package s3 is S3 (AWS, or any S3-compatible server) as a gomr file
// system and export target: paths s3://bucket/key, served by FS, a
// mapreduce.FileSystem with an exactly-once output Committer. It is the
// only package of gomr that imports the AWS SDK (aws-sdk-go-v2).
//
// What it owns:
//
//   - Reaching the store (New, Config): the standard AWS configuration
//     (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,
//     the credentials chain) unless Config says otherwise; an endpoint that
//     is not AWS's gets path-style addressing and checksums only where the
//     protocol requires them. The SDK's retryer, with more attempts and no
//     retry quota, retries throttling (503 SlowDown) and transient errors
//     with exponential backoff and jitter; reads also retry a body that
//     breaks part way, from where it broke.
//   - Files: Stat (HeadObject; a key with objects under it is a folder),
//     List (ListObjectsV2 by "/", all pages, sorted), Open (ranged GETs
//     pinned to the ETag, ReadAhead bytes at a time), Create (PutObject, or
//     multipart past PartSize), Rename (server-side copy, then delete; not
//     atomic), Delete (DeleteObjects batches; recursive also aborts the
//     uploads open under the prefix).
//   - Output (Committer, TaskOutput): attempts upload each file as a
//     multipart upload that stays open, so nothing is visible; the leader
//     completes the chosen attempt's uploads from its commit record, aborts
//     the rest, and puts the _SUCCESS manifest last. See Committer for the
//     layout, overwrite and the manifest's checksums.
//   - RequireSignature: SigV4 authentication in front of an in-process
//     S3 server (tests, the embedded endpoint of gomr local).
//
// Invariants:
//
//   - Credentials never appear in an error, a log line or a String,
//     GoString or LogValue output: errors carry the path, the operation
//     and the SDK's error (operation, status, request id, S3 code).
//   - Under a step's output prefix, only complete files of chosen
//     attempts ever become visible, each once; _SUCCESS is last.
//   - Every leader-side committer method is idempotent, and works from
//     the commit records and the store alone (a new committer after a
//     failover finishes what the last one started).
//   - Keys are OUTPUT/name; a name with "..", "." or empty elements, or
//     starting with "/", is refused, as are the reserved _SUCCESS and
//     _temporary.
package s3
