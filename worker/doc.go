// Package worker is a gomr worker node. Core and task workers both run task
// slots; core workers are the ones meant to hold HDFS blocks (package hdfs,
// whose block store is still to come), so task workers can come and go.
//
// A worker joins the gossip ring through a primary, registers its
// incarnation with the leader, sends heartbeats that carry its running
// attempts' progress, and long-polls the leader for attempts to fill its
// free slots. A slot whose attempt ends is handed back with the attempt's
// report, whose answer usually brings the slot's next attempt: the leader
// records the end and the new start in one log entry. It runs map attempts (leaving one sorted, checksummed run per
// map on local disk, served to reducers by its Shuffle service) and reduce
// attempts (fetching their partition from every map output, merging, and
// writing a part file into the step's _temporary folder). It reports every
// attempt's end; the leader decides which attempt of a task counts.
//
// An incarnation is one run of the worker process. When the leader no
// longer knows the current incarnation (it was declared down), the worker
// kills its attempts, drops its map outputs and registers a new one.
package worker
