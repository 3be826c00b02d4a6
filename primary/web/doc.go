// Package web serves a primary's status page and its Prometheus metrics
// over HTTP, as the resource manager and job history UIs of a Hadoop
// cluster do:
//
//	/                                       nodes (primaries, workers, HDFS) and the latest steps
//	/?page=TOKEN&state=STATE                older steps, or the steps in one state
//	/steps/{id}                             a step: progress, counters, tasks and their attempts
//	/steps/{id}/attempts/{attempt}/logs     where an attempt's logs are
//	/metrics                                Prometheus metrics (text exposition format)
//
// The pages are plain HTML from html/template, with no script: a
// <meta http-equiv="refresh"> reloads them every few seconds while there
// is something to watch.
//
// # Where the pages read from
//
// Every primary serves the same pages, and they are built from the
// client API's answers (a Source: the primary's own Client service,
// called in-process), the same answers `gomr step describe` and
// `gomr node list` print. A follower forwards those calls to the leader,
// which confirms its leadership with a quorum before it answers; so no
// primary ever shows stale or deposed-leader state, and the parts of the
// page that only the leader knows (the progress of running attempts and
// their status lines, HDFS usage from block reports) are on every
// primary's page. A primary that cannot reach a leader says so at the
// top of the page, and still shows its own Raft state.
//
// # Metrics
//
// /metrics, by contrast, is each primary's own view, as a Prometheus
// target's should be: its Raft state (leader or not, term, commit and
// applied index, last contact with the leader), and the cluster's steps,
// attempts and workers as its replicated state holds them, read at scrape
// time from a state.View (never blocking Raft). A follower's numbers
// trail the leader's by the replication delay, and stay available while
// the group has no quorum, which is when they matter most. Scrape every
// primary and aggregate with max() or pick the one with gomr_raft_leader
// equal to 1.
//
// Counters summed from steps (shuffle and HDFS bytes, records, attempts
// launched...) and the attempt duration histograms are computed from the
// state too. A step that has ended never changes again, so its share is
// added once to running totals and not read again: a scrape costs one pass
// over the steps' records plus the tasks of the steps that have not ended.
package web
