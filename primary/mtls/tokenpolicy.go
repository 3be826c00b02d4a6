package mtls

import (
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/primary/access"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
)

// openMethod marks a method a client certificate may call without a
// token: only the bootstrap of the first admin token, which the cluster
// refuses once it has one.
const openMethod access.Role = ""

// TokenPolicy names, for every RPC a client certificate may call (see the
// certificate policy of package mtls), the least token role it needs. A
// method missing here is denied to every token.
var TokenPolicy = map[string]access.Role{
	pb.Client_ListSteps_FullMethodName:    access.RoleRead,
	pb.Client_DescribeStep_FullMethodName: access.RoleRead,
	pb.Client_ListTasks_FullMethodName:    access.RoleRead,
	pb.Client_ListNodes_FullMethodName:    access.RoleRead,
	pb.Client_SubmitStep_FullMethodName:   access.RoleSubmit,
	pb.Client_CancelStep_FullMethodName:   access.RoleSubmit,
	pb.Client_KillAttempt_FullMethodName:  access.RoleSubmit,
	// Node and token administration.
	pb.Client_RemovePrimary_FullMethodName:      access.RoleAdmin,
	pb.Client_DrainWorker_FullMethodName:        access.RoleAdmin,
	pb.Client_DecommissionWorker_FullMethodName: access.RoleAdmin,
	pb.Client_CreateToken_FullMethodName:        access.RoleAdmin,
	pb.Client_ListTokens_FullMethodName:         access.RoleAdmin,
	pb.Client_RevokeToken_FullMethodName:        access.RoleAdmin,
	pb.Client_BootstrapToken_FullMethodName:     openMethod,

	// HDFS: reading files, writing them, administering the file system.
	hdfspb.NameNode_GetFileInfo_FullMethodName:       access.RoleRead,
	hdfspb.NameNode_List_FullMethodName:              access.RoleRead,
	hdfspb.NameNode_GetBlockLocations_FullMethodName: access.RoleRead,
	hdfspb.NameNode_ContentSummary_FullMethodName:    access.RoleRead,
	hdfspb.NameNode_ReportBadBlocks_FullMethodName:   access.RoleRead,
	hdfspb.NameNode_Stats_FullMethodName:             access.RoleRead,
	hdfspb.DataNode_ReadBlock_FullMethodName:         access.RoleRead,
	hdfspb.NameNode_Mkdirs_FullMethodName:            access.RoleSubmit,
	hdfspb.NameNode_Create_FullMethodName:            access.RoleSubmit,
	hdfspb.NameNode_AddBlock_FullMethodName:          access.RoleSubmit,
	hdfspb.NameNode_AbandonBlock_FullMethodName:      access.RoleSubmit,
	hdfspb.NameNode_Complete_FullMethodName:          access.RoleSubmit,
	hdfspb.NameNode_Abandon_FullMethodName:           access.RoleSubmit,
	hdfspb.NameNode_RenewLease_FullMethodName:        access.RoleSubmit,
	hdfspb.NameNode_Delete_FullMethodName:            access.RoleSubmit,
	hdfspb.NameNode_Rename_FullMethodName:            access.RoleSubmit,
	hdfspb.NameNode_SetReplication_FullMethodName:    access.RoleSubmit,
	hdfspb.DataNode_WriteBlock_FullMethodName:        access.RoleSubmit,
	hdfspb.NameNode_Fsck_FullMethodName:              access.RoleAdmin,
	hdfspb.NameNode_SafeMode_FullMethodName:          access.RoleAdmin,

	// Attempt logs on workers.
	workerpb.Logs_ListLogs_FullMethodName: access.RoleRead,
	workerpb.Logs_ReadLog_FullMethodName:  access.RoleRead,
}
