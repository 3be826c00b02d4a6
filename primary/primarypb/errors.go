package primarypb

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the domain of the ErrorInfo details gomr's primaries
// attach to errors.
const ErrorDomain = "gomr.primary"

// NoLeaderReason is the ErrorInfo reason of an Unavailable error a primary
// returns while its group has no leader (an election, or no quorum): a
// call that fails so may be sent again, unlike one whose primary could not
// be reached at all.
const NoLeaderReason = "NO_LEADER"

// NoLeaderError returns the status error of a primary with no leader.
func NoLeaderError(msg string) error {
	st := status.New(codes.Unavailable, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: NoLeaderReason, Domain: ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}

// IsNoLeader reports whether err is a primary's answer that its group has
// no leader now.
func IsNoLeader(err error) bool { return hasReason(err, NoLeaderReason) }

func hasReason(err error, reason string) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Reason == reason && info.Domain == ErrorDomain {
			return true
		}
	}
	return false
}
