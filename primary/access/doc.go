// Package access is the second half of a call's authorisation, after the
// certificate (package mtls): what the person behind a client
// certificate may do, by the token they present.
//
// A token is "gomr_" ACCESSOR "_" SECRET: the accessor names it (in
// lists, logs and revocations) and the secret proves it. The cluster
// keeps only the SHA-256 of the secret, in the replicated state, so a
// snapshot, a Raft log or a stolen data folder reveals no usable token.
// Each token has a role: read (list and describe steps, read outputs and
// logs), submit (read, plus add and cancel steps and write files) or
// admin (submit, plus node, HDFS and token administration). Tokens may
// expire and can be revoked.
//
// Clients send the token as gRPC metadata ("authorization: Bearer
// TOKEN", mtls.Bearer), and the servers' interceptors (package mtls)
// check it against the role each method needs (mtls.TokenPolicy): a
// call from a client certificate without a valid token for its method
// fails with codes.Unauthenticated or codes.PermissionDenied and is
// logged with the principal and the method, never the secret. Calls
// between primaries and workers are authorised by their certificates
// alone.
package access
