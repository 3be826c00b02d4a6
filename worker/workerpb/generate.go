// Package workerpb holds the gRPC API a gomr worker serves, generated from
// shuffle.proto (the Shuffle service reducers fetch map outputs from) and
// logs.proto (the Logs service clients read attempts' logs from).
package workerpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative shuffle.proto logs.proto
