// Package hdfspb is the wire protocol of gomr's HDFS: the NameNode service
// every primary serves to clients, and the DataNode service every core
// worker serves to clients, other core workers and the primaries.
package hdfspb

//go:generate protoc -I../.. --go_out=../.. --go_opt=paths=source_relative --go-grpc_out=../.. --go-grpc_opt=paths=source_relative hdfs/hdfspb/hdfs.proto
