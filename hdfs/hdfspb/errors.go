package hdfspb

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the domain of the ErrorInfo details of HDFS errors.
const ErrorDomain = "gomr.hdfs"

// SafeModeReason is the ErrorInfo reason of an Unavailable error for a
// change to HDFS while it is in safe mode (after a primary starts or a
// new leader takes over, until enough blocks are reported): the change
// may be sent again once safe mode ends.
const SafeModeReason = "SAFE_MODE"

// SafeModeError returns the status error of a change refused in safe
// mode.
func SafeModeError(msg string) error {
	st := status.New(codes.Unavailable, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: SafeModeReason, Domain: ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}

// IsSafeMode reports whether err refused a change in safe mode.
func IsSafeMode(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Reason == SafeModeReason && info.Domain == ErrorDomain {
			return true
		}
	}
	return false
}
