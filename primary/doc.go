// Package primary is a gomr primary node: a member of the Raft group that
// replicates the cluster state (package state), the gRPC services clients
// and workers call, and the leader's work: planning steps into splits,
// assigning tasks (package scheduler), watching worker liveness, and
// committing or cleaning up step output.
//
// Any primary answers any call; a follower forwards it to the leader, so a
// client never sees which primary leads. Every write follows one shape:
// forward to the leader, validate, apply through Raft, unwrap the state
// machine's error. Leader-only loops start after a Raft barrier when a
// primary gains leadership and stop when it loses it. What is not in the
// Raft log (worker heartbeats, attempt progress) is soft state, rebuilt by
// a new leader from the workers' next heartbeats.
package primary
