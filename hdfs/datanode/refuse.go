package datanode

import (
	"context"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RefusedMessage is the message of the FailedPrecondition errors of the
// service Refuse returns.
const RefusedMessage = "this is a task worker: it stores no HDFS blocks"

// Refuse returns the DataNode service of a task worker, which holds no
// blocks: every method fails with codes.FailedPrecondition and
// RefusedMessage, so that a block write or read sent to a task worker by
// mistake fails clearly rather than as an unknown service.
func Refuse() hdfspb.DataNodeServer { return refused{} }

type refused struct {
	hdfspb.UnimplementedDataNodeServer
}

func refusal() error { return status.Error(codes.FailedPrecondition, RefusedMessage) }

func (refused) WriteBlock(hdfspb.DataNode_WriteBlockServer) error { return refusal() }

func (refused) ReadBlock(*hdfspb.ReadBlockRequest, hdfspb.DataNode_ReadBlockServer) error {
	return refusal()
}

func (refused) TransferBlock(context.Context, *hdfspb.TransferBlockRequest) (*hdfspb.TransferBlockResponse, error) {
	return nil, refusal()
}
