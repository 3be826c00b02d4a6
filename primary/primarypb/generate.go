// Package primarypb holds the gRPC API of a gomr primary, generated from
// primary.proto.
package primarypb

//go:generate protoc -I. -I../.. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative primary.proto
