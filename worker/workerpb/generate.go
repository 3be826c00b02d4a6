// Package workerpb holds the gRPC API a gomr worker serves, generated from
// shuffle.proto.
package workerpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative shuffle.proto
