package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// Encode / Decode
// ---------------------------------------------------------------------------

func allCommands() []Command {
	w := worker("w1", 7)
	w.Role = RoleTask
	sp := spec("/out", 3, 4)
	sp.ClientToken = "tok"
	sp.NoSpeculation = true
	return []Command{
		&RegisterPrimary{Primary: Primary{ID: "p1", Addr: "a:1", RaftAddr: "a:2", GossipAddr: "a:3"}},
		&RemovePrimary{ID: "p1"},
		&DrainWorker{ID: "w1", Time: 9},
		&KillAttempt{AttemptID: "a0", Reason: "by user", Failed: true, Time: 10},
		&MapOutputLost{AttemptID: "a0", Reason: "fetch failed", Time: 11},
		&RegisterWorker{Worker: w, Time: 1},
		&WorkerDown{ID: "w1", Incarnation: 7, Reason: "left", Time: 2},
		&SubmitStep{ID: "s-1", Spec: sp, Input: InputSummary{Files: 2, Bytes: 200, Splits: 3}, Time: 3},
		&AddSplits{ID: "s-1", Splits: splits(1)},
		&StartStep{ID: "s-1", Splits: splits(2), Time: 4},
		&Assign{Assignments: []Assignment{asg("a0", "s-1", KindMap, 0, "w1", 7), backup("a1", "s-1", KindReduce, 2, "w2", 1)}, Time: 5},
		&FinishAttempt{AttemptID: "a0", Worker: "w1", Incarnation: 7, Success: true, Counters: map[string]int64{"X": 1, "Y": -2},
			Commit: json.RawMessage(`{"files":["f1","f2"],"n":1}`), Time: 6},
		&FinishAttempt{AttemptID: "a1", Worker: "w2", Incarnation: 1, Error: "boom", Fatal: true, Time: 7},
		&CancelStep{ID: "s-1", Reason: "user", Time: 8},
		&FailStep{ID: "s-1", Error: "bad input", Time: 9},
		&CompleteStep{ID: "s-1", Time: 10},
		&StepCleanedUp{ID: "s-1"},
		&Batch{Commands: []Command{
			&Assign{Assignments: []Assignment{asg("a2", "s-1", KindMap, 1, "w1", 7)}, Time: 11},
			&FinishAttempt{AttemptID: "a0", Worker: "w1", Incarnation: 7, Success: true, Counters: map[string]int64{"X": 1}, Time: 12},
		}},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	seen := make(map[CommandType]bool)
	for _, c := range allCommands() {
		t.Run(c.Type().String(), func(t *testing.T) {
			b, err := Encode(c)
			if err != nil {
				t.Fatal(err)
			}
			if CommandType(b[0]) != c.Type() {
				t.Fatalf("tag %d, want %d", b[0], c.Type())
			}
			if !json.Valid(b[1:]) {
				t.Fatalf("payload is not JSON: %q", b[1:])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "decoded", got, c)
			// A value encodes like its pointer.
			vb, err := Encode(reflect.ValueOf(c).Elem().Interface().(Command))
			if err != nil || !bytes.Equal(vb, b) {
				t.Fatalf("value encoding %q, %v; want %q", vb, err, b)
			}
		})
		seen[c.Type()] = true
	}
	for ct := CommandType(1); ct <= CmdAddSplits; ct++ {
		if !seen[ct] {
			t.Errorf("no round trip test for %s", ct)
		}
	}
	// Every command this version knows, empty: its Type is its tag, and it
	// survives a round trip.
	for _, ct := range knownTags() {
		c := newCommand(ct)
		if c.Type() != ct {
			t.Errorf("newCommand(%d) is a %T of type %s", uint8(ct), c, c.Type())
			continue
		}
		b, err := Encode(c)
		if err != nil {
			t.Errorf("%s: %v", ct, err)
			continue
		}
		got, err := Decode(b)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("%s: decoded %#v, %v; want %#v", ct, got, err, c)
		}
	}
	// A commit record that is not JSON cannot be encoded (the leader
	// learns it before anything reaches the log).
	if _, err := Encode(&FinishAttempt{AttemptID: "a", Success: true, Commit: json.RawMessage("{not json")}); err == nil {
		t.Errorf("Encode accepted a commit record that is not JSON")
	}
}

func TestCommandTags(t *testing.T) {
	// Tags are written to the Raft log: they must never change.
	for ct, want := range map[CommandType]struct {
		tag  uint8
		name string
	}{
		CmdRegisterWorker: {1, "RegisterWorker"}, CmdWorkerDown: {2, "WorkerDown"}, CmdSubmitStep: {3, "SubmitStep"},
		CmdStartStep: {4, "StartStep"}, CmdAssign: {5, "Assign"}, CmdFinishAttempt: {6, "FinishAttempt"},
		CmdCancelStep: {7, "CancelStep"}, CmdFailStep: {8, "FailStep"}, CmdCompleteStep: {9, "CompleteStep"},
		CmdStepCleanedUp: {10, "StepCleanedUp"}, CmdRegisterPrimary: {11, "RegisterPrimary"},
		CmdRemovePrimary: {12, "RemovePrimary"}, CmdDrainWorker: {13, "DrainWorker"}, CmdKillAttempt: {14, "KillAttempt"},
		CmdMapOutputLost: {15, "MapOutputLost"}, CmdAddSplits: {16, "AddSplits"},
	} {
		if uint8(ct) != want.tag || ct.String() != want.name {
			t.Errorf("%s = %d, want %s = %d", ct, uint8(ct), want.name, want.tag)
		}
		if ct&IgnoreUnknownTypeFlag != 0 {
			t.Errorf("%s carries the ignore flag", ct)
		}
	}
	for _, ct := range knownTags() {
		if name := ct.String(); strings.HasPrefix(name, "CommandType(") || strings.Contains(name, "|") {
			t.Errorf("known tag %d is named %q", uint8(ct), name)
		}
	}
	if IgnoreUnknownTypeFlag != 0x80 {
		t.Errorf("IgnoreUnknownTypeFlag = %#x, want 0x80", uint8(IgnoreUnknownTypeFlag))
	}
	unknown := unknownTag()
	for ct, want := range map[CommandType]string{
		0:                                      "CommandType(0)",
		unknown:                                fmt.Sprintf("CommandType(%d)", uint8(unknown)),
		127:                                    "CommandType(127)",
		IgnoreUnknownTypeFlag | unknown:        fmt.Sprintf("CommandType(%d)|ignorable", uint8(unknown)),
		IgnoreUnknownTypeFlag:                  "CommandType(0)|ignorable",
		IgnoreUnknownTypeFlag | CmdAddSplits:   "AddSplits|ignorable",
		IgnoreUnknownTypeFlag | CommandType(1): "RegisterWorker|ignorable",
	} {
		if got := ct.String(); got != want {
			t.Errorf("String of tag %d = %q, want %q", uint8(ct), got, want)
		}
	}
	// Record tags are written to snapshots: they must never change either.
	for rt, want := range map[RecordType]uint8{RecordPrimary: 1, RecordWorker: 2, RecordStep: 3, RecordTask: 4, RecordMeta: 5} {
		if uint8(rt) != want {
			t.Errorf("record tag %d, want %d", uint8(rt), want)
		}
	}
}

// knownTags returns the command tags this version knows.
func knownTags() []CommandType {
	var out []CommandType
	for ct := CommandType(0); ct < IgnoreUnknownTypeFlag; ct++ {
		if newCommand(ct) != nil {
			out = append(out, ct)
		}
	}
	return out
}

// unknownTag returns the lowest command tag this version does not know
// (but 0).
func unknownTag() CommandType {
	for ct := CommandType(1); ; ct++ {
		if newCommand(ct) == nil {
			return ct
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	unknown := byte(unknownTag())
	if newCommand(127) != nil || newCommand(0) != nil {
		t.Fatalf("tags 0 and 127 are expected to be unknown")
	}
	for _, tc := range []struct {
		name    string
		entry   []byte
		ignored bool // the error wraps ErrIgnored
	}{
		{"nil", nil, false},
		{"empty", []byte{}, false},
		{"tag 0", append([]byte{0}, "{}"...), false},
		{"lowest unknown tag", append([]byte{unknown}, "{}"...), false},
		{"tag 127", append([]byte{127}, "{}"...), false},
		{"tag only", []byte{byte(CmdAssign)}, false},
		{"bad JSON", append([]byte{byte(CmdSubmitStep)}, "{not json"...), false},
		{"wrong JSON type", append([]byte{byte(CmdCancelStep)}, `{"id": 5}`...), false},
		{"JSON array", append([]byte{byte(CmdCompleteStep)}, `[1]`...), false},
		{"ignorable tag 128", append([]byte{128}, "{}"...), true},
		{"ignorable tag 200", append([]byte{200}, `{"x":1}`...), true},
		{"ignorable tag 255", append([]byte{255}, "{}"...), true},
		{"ignorable tag, no payload", []byte{0x80 | unknown}, true},
		{"ignorable tag, payload not JSON", append([]byte{0x80 | unknown}, "\x00\x01garbage"...), true},
		// A known command's tag with the flag is still a tag this version
		// does not know.
		{"ignorable flag on a known tag", append([]byte{byte(IgnoreUnknownTypeFlag | CmdCancelStep)}, `{"id":"s"}`...), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(tc.entry)
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, want error", tc.entry, c)
			}
			if c != nil {
				t.Fatalf("Decode returned a command with its error: %#v", c)
			}
			if got := errors.Is(err, ErrIgnored); got != tc.ignored {
				t.Fatalf("Decode(%q) = %v: errors.Is(ErrIgnored) = %v, want %v", tc.entry, err, got, tc.ignored)
			}
		})
	}
}
