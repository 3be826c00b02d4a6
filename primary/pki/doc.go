// Package pki is the cluster's certificate authority: it creates a CA
// (ECDSA P-256, long-lived), issues node and client certificates signed by
// it, and reads a certificate's role back.
//
// Every certificate it issues names its holder's role and name in a URI
// SAN, gomr://role/ROLE/NAME, where ROLE is primary, worker or client.
// Servers authorise calls by that role (package mtls); the certificate's
// DNS and IP SANs are the addresses other nodes reach the holder by, and
// clients verify them as any TLS client does.
//
// Files: a CA folder holds ca.crt, ca.key (mode 0600) and, if asked for,
// gossip.key (the base64 gossip encryption key); an issued pair is
// NAME.crt and NAME.key beside them.
package pki
