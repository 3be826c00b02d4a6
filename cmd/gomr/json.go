package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
)

// The JSON layout of every command's --format json: numbers are JSON
// numbers, times RFC 3339 (UTC), durations seconds, names snake_case.

// jsonStep is a step as --format json prints it.
type jsonStep struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	State           string            `json:"state"`
	Phase           string            `json:"phase,omitempty"`
	Job             string            `json:"job"`
	Options         map[string]string `json:"options,omitempty"`
	Inputs          []string          `json:"inputs"`
	Output          string            `json:"output"`
	Export          string            `json:"export,omitempty"`
	ExportStep      string            `json:"export_step,omitempty"`
	After           string            `json:"after,omitempty"`
	InputFormat     string            `json:"input_format,omitempty"`
	OutputFormat    string            `json:"output_format,omitempty"`
	Compress        string            `json:"compress,omitempty"`
	Overwrite       bool              `json:"overwrite,omitempty"`
	Reducers        int32             `json:"reducers"`
	SplitSize       int64             `json:"split_size_bytes"`
	SortBuffer      int64             `json:"sort_buffer_bytes"`
	MaxLineBytes    int64             `json:"max_line_bytes"`
	InputFiles      int32             `json:"input_files"`
	InputBytes      int64             `json:"input_bytes"`
	Submitted       *time.Time        `json:"submitted,omitempty"`
	Started         *time.Time        `json:"started,omitempty"`
	Ended           *time.Time        `json:"ended,omitempty"`
	DurationSeconds float64           `json:"duration_seconds,omitempty"`
	Error           string            `json:"error,omitempty"`
	Maps            jsonProgress      `json:"maps"`
	Reduces         jsonProgress      `json:"reduces"`
	Counters        map[string]int64  `json:"counters"`
	Tasks           []jsonTask        `json:"tasks,omitempty"`
}

// jsonProgress is one phase's progress.
type jsonProgress struct {
	Total    int32   `json:"total"`
	Done     int32   `json:"done"`
	Progress float64 `json:"progress"`
}

type jsonTask struct {
	Kind     string        `json:"kind"`
	Index    int32         `json:"index"`
	State    string        `json:"state"`
	Split    *jsonSplit    `json:"split,omitempty"`
	Attempts []jsonAttempt `json:"attempts"`
}

type jsonSplit struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

type jsonAttempt struct {
	ID              string     `json:"id"`
	Worker          string     `json:"worker"`
	State           string     `json:"state"`
	Started         *time.Time `json:"started,omitempty"`
	Ended           *time.Time `json:"ended,omitempty"`
	DurationSeconds float64    `json:"duration_seconds,omitempty"`
	Progress        float64    `json:"progress"`
	Speculative     bool       `json:"speculative,omitempty"`
	Error           string     `json:"error,omitempty"`
}

// jsonNodes is what node list prints.
type jsonNodes struct {
	Leader     string        `json:"leader"`
	Terminated string        `json:"terminated,omitempty"`
	Primaries  []jsonPrimary `json:"primaries"`
	Workers    []jsonWorker  `json:"workers"`
}

type jsonPrimary struct {
	ID                string `json:"id"`
	Address           string `json:"address"`
	RaftAddress       string `json:"raft_address"`
	GossipAddress     string `json:"gossip_address,omitempty"`
	RaftState         string `json:"raft_state"`
	Voter             bool   `json:"voter"`
	Term              uint64 `json:"term"`
	CommitIndex       uint64 `json:"commit_index"`
	AppliedIndex      uint64 `json:"applied_index"`
	LastSnapshotIndex uint64 `json:"last_snapshot_index"`
	FirstLogIndex     uint64 `json:"first_log_index"`
	LastLogIndex      uint64 `json:"last_log_index"`
	Leader            string `json:"leader,omitempty"`
	Error             string `json:"error,omitempty"`
}

type jsonWorker struct {
	ID          string     `json:"id"`
	Role        string     `json:"role"`
	Address     string     `json:"address"`
	State       string     `json:"state"`
	Slots       int32      `json:"slots"`
	Running     int32      `json:"running"`
	Incarnation int64      `json:"incarnation"`
	Registered  *time.Time `json:"registered,omitempty"`
	// HDFS on a core worker.
	HDFSCapacity     int64 `json:"hdfs_capacity,omitempty"`
	HDFSUsed         int64 `json:"hdfs_used,omitempty"`
	HDFSRemaining    int64 `json:"hdfs_remaining,omitempty"`
	HDFSBlocks       int64 `json:"hdfs_blocks,omitempty"`
	DecommissionLeft int64 `json:"decommission_left,omitempty"`
}

// jsonTime returns the time of Unix nanoseconds in UTC, or nil for 0.
func jsonTime(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

func seconds(from, to int64) float64 {
	if from == 0 || to == 0 {
		return 0
	}
	return time.Duration(to - from).Seconds()
}

func stepJSON(st *pb.Step, tasks []*pb.Task) jsonStep {
	sp := st.GetSpec()
	j := jsonStep{
		ID: st.Id, Name: sp.GetName(), State: string(st.State.Value()), Phase: string(st.Phase.Value()), Job: sp.GetJob(), Options: sp.GetOptions(),
		Inputs: sp.GetInputs(), Output: sp.GetOutput(), Reducers: sp.GetReducers(),
		Export: sp.GetExport(), ExportStep: st.ExportStep, After: sp.GetAfter(),
		InputFormat: sp.GetInputFormat(), OutputFormat: sp.GetOutputFormat(), Compress: sp.GetCompress(), Overwrite: sp.GetOverwrite(),
		SplitSize: sp.GetSplitSize(), SortBuffer: sp.GetSortBufferBytes(), MaxLineBytes: sp.GetMaxLineBytes(),
		InputFiles: st.InputFiles, InputBytes: st.InputBytes,
		Submitted: jsonTime(st.SubmittedUnixNano), Started: jsonTime(st.StartedUnixNano), Ended: jsonTime(st.EndedUnixNano),
		DurationSeconds: seconds(st.SubmittedUnixNano, st.EndedUnixNano),
		Error:           st.Error,
		Maps:            jsonProgress{Total: st.MapsTotal, Done: st.MapsDone, Progress: st.MapProgress},
		Reduces:         jsonProgress{Total: st.ReducesTotal, Done: st.ReducesDone, Progress: st.ReduceProgress},
		Counters:        st.Counters,
	}
	if j.Counters == nil {
		j.Counters = map[string]int64{}
	}
	for _, t := range tasks {
		jt := jsonTask{Kind: string(t.Kind.Value()), Index: t.Index, State: string(t.State.Value()), Attempts: []jsonAttempt{}}
		if sp := t.Split; sp != nil {
			jt.Split = &jsonSplit{File: sp.File, Offset: sp.Offset, Length: sp.Length}
		}
		for _, a := range t.Attempts {
			jt.Attempts = append(jt.Attempts, jsonAttempt{
				ID: a.Id, Worker: a.Worker, State: string(a.State.Value()), Started: jsonTime(a.StartedUnixNano), Ended: jsonTime(a.EndedUnixNano),
				DurationSeconds: seconds(a.StartedUnixNano, a.EndedUnixNano), Progress: a.Progress, Speculative: a.Speculative, Error: a.Error,
			})
		}
		j.Tasks = append(j.Tasks, jt)
	}
	return j
}

func nodesJSON(resp *pb.ListNodesResponse) jsonNodes {
	j := jsonNodes{Leader: resp.Leader, Terminated: resp.Terminated, Primaries: []jsonPrimary{}, Workers: []jsonWorker{}}
	for _, p := range resp.Primaries {
		j.Primaries = append(j.Primaries, jsonPrimary{
			ID: p.Id, Address: p.Address, RaftAddress: p.RaftAddress, GossipAddress: p.GossipAddress, RaftState: p.RaftState,
			Voter: p.Voter, Term: p.Term, CommitIndex: p.CommitIndex, AppliedIndex: p.AppliedIndex, LastSnapshotIndex: p.LastSnapshotIndex,
			FirstLogIndex: p.FirstLogIndex, LastLogIndex: p.LastLogIndex, Leader: p.Leader, Error: p.Error,
		})
	}
	for _, w := range resp.Workers {
		j.Workers = append(j.Workers, jsonWorker{
			ID: w.Id, Role: string(w.Role.Value()), Address: w.Address, State: string(w.State.Value()), Slots: w.Slots, Running: w.Running,
			Incarnation: w.Incarnation, Registered: jsonTime(w.RegisteredUnixNano),
			HDFSCapacity: w.HdfsCapacity, HDFSUsed: w.HdfsUsed, HDFSRemaining: w.HdfsRemaining, HDFSBlocks: w.HdfsBlocks, DecommissionLeft: w.DecommissionLeft,
		})
	}
	return j
}

// printJSON prints v indented, as every --format json does.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
