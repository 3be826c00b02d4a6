// Package mtls is the one place the cluster's connections get their
// security: mutual TLS 1.3 for every gRPC server and client and for the
// primaries' Raft transport, and authorisation of each gRPC call by the
// role the caller's certificate names (package pki).
//
// A node loads an Identity from its certificate, key and CA files. The
// Identity re-reads the files when they change (it polls them) or when
// Reload is called (on SIGHUP): new handshakes use the new pair and CA at
// once, connections already open keep theirs. A file that does not load
// (half written, a key of another certificate) is logged and the old pair
// stays in use.
//
// A nil *Identity means plaintext: its methods return insecure
// credentials and no interceptors, so that call sites read the same with
// and without TLS.
//
// Every RPC of every service has a row in the policy table (policy.go)
// naming the roles that may call it; a call from any other role, or to a
// method missing from the table, fails with codes.PermissionDenied and is
// logged with the caller and the method. A worker certificate, moreover,
// speaks only for its own worker: a call naming a worker (registration,
// heartbeats, polls, reports) must name the certificate's.
package mtls
