package state

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gomr/gomr/mapreduce"
)

// CommandType tags a Raft log entry. Tags are stable: never renumber one,
// and never reuse the tag of a retired command.
type CommandType uint8

// IgnoreUnknownTypeFlag is the reserved high bit of a tag (as in Nomad):
// a command whose tag carries it may be skipped by a primary that does not
// know it, so that a newer primary can log commands an older one can live
// without during a rolling upgrade. A command without it that a primary
// does not know stops that primary: applying the rest of the log without
// it would make its state differ from its peers'.
const IgnoreUnknownTypeFlag CommandType = 128

// Command tags.
const (
	CmdRegisterWorker  CommandType = 1
	CmdWorkerDown      CommandType = 2
	CmdSubmitStep      CommandType = 3
	CmdStartStep       CommandType = 4
	CmdAssign          CommandType = 5
	CmdFinishAttempt   CommandType = 6
	CmdCancelStep      CommandType = 7
	CmdFailStep        CommandType = 8
	CmdCompleteStep    CommandType = 9
	CmdStepCleanedUp   CommandType = 10
	CmdRegisterPrimary CommandType = 11
	CmdRemovePrimary   CommandType = 12
	CmdDrainWorker     CommandType = 13
	CmdKillAttempt     CommandType = 14
	CmdMapOutputLost   CommandType = 15
	CmdAddSplits       CommandType = 16
	// CmdPlanStep records the input of a step that waited for another.
	CmdPlanStep CommandType = 19
	// Decommissioning core workers.
	CmdDecommissionWorker CommandType = 17
	CmdFinishDecommission CommandType = 18
	// HDFS namespace commands.
	CmdMkdirs         CommandType = 20
	CmdCreateFile     CommandType = 21
	CmdAddBlock       CommandType = 22
	CmdAbandonBlock   CommandType = 23
	CmdCompleteFile   CommandType = 24
	CmdAbandonFile    CommandType = 25
	CmdRenewLease     CommandType = 26
	CmdExpireLeases   CommandType = 27
	CmdDeletePath     CommandType = 28
	CmdRenamePath     CommandType = 29
	CmdSetReplication CommandType = 30
	CmdSetSafeMode    CommandType = 31
	// CmdBatch carries several commands in one log entry.
	CmdBatch CommandType = 32
	// Client tokens.
	CmdCreateToken CommandType = 33
	CmdRevokeToken CommandType = 34
)

func (t CommandType) String() string {
	switch t {
	case CmdRegisterWorker:
		return "RegisterWorker"
	case CmdWorkerDown:
		return "WorkerDown"
	case CmdSubmitStep:
		return "SubmitStep"
	case CmdStartStep:
		return "StartStep"
	case CmdAssign:
		return "Assign"
	case CmdFinishAttempt:
		return "FinishAttempt"
	case CmdCancelStep:
		return "CancelStep"
	case CmdFailStep:
		return "FailStep"
	case CmdCompleteStep:
		return "CompleteStep"
	case CmdStepCleanedUp:
		return "StepCleanedUp"
	case CmdRegisterPrimary:
		return "RegisterPrimary"
	case CmdRemovePrimary:
		return "RemovePrimary"
	case CmdDrainWorker:
		return "DrainWorker"
	case CmdKillAttempt:
		return "KillAttempt"
	case CmdMapOutputLost:
		return "MapOutputLost"
	case CmdAddSplits:
		return "AddSplits"
	case CmdPlanStep:
		return "PlanStep"
	case CmdDecommissionWorker:
		return "DecommissionWorker"
	case CmdFinishDecommission:
		return "FinishDecommission"
	case CmdMkdirs:
		return "Mkdirs"
	case CmdCreateFile:
		return "CreateFile"
	case CmdAddBlock:
		return "AddBlock"
	case CmdAbandonBlock:
		return "AbandonBlock"
	case CmdCompleteFile:
		return "CompleteFile"
	case CmdAbandonFile:
		return "AbandonFile"
	case CmdRenewLease:
		return "RenewLease"
	case CmdExpireLeases:
		return "ExpireLeases"
	case CmdDeletePath:
		return "DeletePath"
	case CmdRenamePath:
		return "RenamePath"
	case CmdSetReplication:
		return "SetReplication"
	case CmdSetSafeMode:
		return "SetSafeMode"
	case CmdBatch:
		return "Batch"
	case CmdCreateToken:
		return "CreateToken"
	case CmdRevokeToken:
		return "RevokeToken"
	}
	if t&IgnoreUnknownTypeFlag != 0 {
		return (t &^ IgnoreUnknownTypeFlag).String() + "|ignorable"
	}
	return fmt.Sprintf("CommandType(%d)", uint8(t))
}

// Command is a change to the state. Time is the leader's clock when it
// proposed the command, in Unix nanoseconds.
type Command interface {
	Type() CommandType
}

// RegisterPrimary records (or updates) where a primary serves.
type RegisterPrimary struct {
	Primary Primary `json:"primary"`
}

// RemovePrimary forgets a primary that left the Raft group.
type RemovePrimary struct {
	ID string `json:"id"`
}

// RegisterWorker records a worker incarnation as alive. A newer incarnation
// replaces an older one, whose running attempts are killed.
type RegisterWorker struct {
	Worker Worker `json:"worker"`
	Time   int64  `json:"time"`
}

// WorkerDown records that a worker incarnation died or left; its running
// attempts are killed and their tasks run again elsewhere.
type WorkerDown struct {
	ID          string `json:"id"`
	Incarnation int64  `json:"incarnation"`
	Reason      string `json:"reason"`
	Time        int64  `json:"time"`
}

// DrainWorker stops giving a worker new attempts; those it runs finish.
type DrainWorker struct {
	ID   string `json:"id"`
	Time int64  `json:"time"`
}

// KillAttempt ends a running attempt: KILLED (by a user, or the system;
// not counted as a failure) or, when Failed, FAILED (it hung past the task
// timeout).
type KillAttempt struct {
	AttemptID string `json:"attempt_id"`
	Reason    string `json:"reason"`
	Failed    bool   `json:"failed,omitempty"`
	Time      int64  `json:"time"`
}

// MapOutputLost records that reducers cannot fetch a map task's output:
// the map task runs again.
type MapOutputLost struct {
	AttemptID string `json:"attempt_id"`
	Reason    string `json:"reason"`
	Time      int64  `json:"time"`
}

// SubmitStep adds a step in state PENDING. Input is what the leader's
// listing of the step's input found; the planned splits follow in
// AddSplits commands of bounded size.
//
// Export, when set, is the export step of Spec.Export, submitted with it:
// its Spec.After is this step, and its input is listed once this step
// completed (PlanStep).
type SubmitStep struct {
	ID     string       `json:"id"`
	Spec   StepSpec     `json:"spec"`
	Input  InputSummary `json:"input"`
	Time   int64        `json:"time"`
	Export *SubmitStep  `json:"export,omitempty"`
	// Deferred: the input did not exist yet when the step was submitted
	// behind steps that had not ended (a chain whose earlier steps make
	// it); it is listed when the step's turn comes (PlanStep).
	Deferred bool `json:"deferred,omitempty"`
}

// PlanStep records what the listing of a waiting step's input found, once
// the step it waited for completed; its splits follow in AddSplits.
type PlanStep struct {
	ID    string       `json:"id"`
	Input InputSummary `json:"input"`
}

// AddSplits records more of a pending step's planned splits, in order.
type AddSplits struct {
	ID     string            `json:"id"`
	Splits []mapreduce.Split `json:"splits"`
}

// StartStep starts a step whose planned splits are all recorded; Splits,
// if given, are planned splits added at the same time.
type StartStep struct {
	ID     string            `json:"id"`
	Splits []mapreduce.Split `json:"splits,omitempty"`
	Time   int64             `json:"time"`
}

// Assignment gives one task to one worker incarnation as a new attempt.
type Assignment struct {
	AttemptID   string   `json:"attempt_id"`
	StepID      string   `json:"step_id"`
	Kind        TaskKind `json:"kind"`
	Index       int      `json:"index"`
	Worker      string   `json:"worker"`
	Incarnation int64    `json:"incarnation"`
	// Speculative starts a backup of a running attempt on another worker.
	Speculative bool `json:"speculative,omitempty"`
}

// Assign starts new attempts. It is applied all or nothing.
type Assign struct {
	Assignments []Assignment `json:"assignments"`
	Time        int64        `json:"time"`
}

// FinishAttempt records the end of a running attempt.
type FinishAttempt struct {
	AttemptID   string           `json:"attempt_id"`
	Worker      string           `json:"worker"`
	Incarnation int64            `json:"incarnation"`
	Success     bool             `json:"success"`
	Error       string           `json:"error,omitempty"`
	Fatal       bool             `json:"fatal,omitempty"`
	Counters    map[string]int64 `json:"counters,omitempty"`
	// Commit is a successful attempt's commit record (see Attempt.Commit).
	Commit json.RawMessage `json:"commit,omitempty"`
	Time   int64           `json:"time"`
}

// CancelStep cancels a step that has not ended.
type CancelStep struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Time   int64  `json:"time"`
}

// FailStep fails a step that has not ended (its input could not be
// planned, or its output could not be committed).
type FailStep struct {
	ID    string `json:"id"`
	Error string `json:"error"`
	Time  int64  `json:"time"`
}

// CompleteStep ends a step whose output the leader has committed.
type CompleteStep struct {
	ID   string `json:"id"`
	Time int64  `json:"time"`
}

// StepCleanedUp records that a failed or cancelled step's temporary output
// was removed.
type StepCleanedUp struct {
	ID string `json:"id"`
}

// Type implements Command.
func (RegisterPrimary) Type() CommandType { return CmdRegisterPrimary }

// Type implements Command.
func (RemovePrimary) Type() CommandType { return CmdRemovePrimary }

// Type implements Command.
func (DrainWorker) Type() CommandType { return CmdDrainWorker }

// Type implements Command.
func (KillAttempt) Type() CommandType { return CmdKillAttempt }

// Type implements Command.
func (MapOutputLost) Type() CommandType { return CmdMapOutputLost }

// Type implements Command.
func (RegisterWorker) Type() CommandType { return CmdRegisterWorker }

// Type implements Command.
func (WorkerDown) Type() CommandType { return CmdWorkerDown }

// Type implements Command.
func (SubmitStep) Type() CommandType { return CmdSubmitStep }

// Type implements Command.
func (StartStep) Type() CommandType { return CmdStartStep }

// Type implements Command.
func (Assign) Type() CommandType { return CmdAssign }

// Type implements Command.
func (FinishAttempt) Type() CommandType { return CmdFinishAttempt }

// Type implements Command.
func (CancelStep) Type() CommandType { return CmdCancelStep }

// Type implements Command.
func (FailStep) Type() CommandType { return CmdFailStep }

// Type implements Command.
func (CompleteStep) Type() CommandType { return CmdCompleteStep }

// Type implements Command.
func (StepCleanedUp) Type() CommandType { return CmdStepCleanedUp }

// Type implements Command.
func (AddSplits) Type() CommandType { return CmdAddSplits }

// Type implements Command.
func (PlanStep) Type() CommandType { return CmdPlanStep }

// Encode returns a command's log entry: its tag byte, then its JSON.
func Encode(c Command) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.Type(), err)
	}
	return append([]byte{byte(c.Type())}, b...), nil
}

// ErrIgnored is returned by Decode for an entry of a command this version
// does not know whose tag allows skipping it (IgnoreUnknownTypeFlag).
var ErrIgnored = errors.New("unknown command that may be ignored")

// Decode parses a log entry written by Encode.
func Decode(entry []byte) (Command, error) {
	if len(entry) == 0 {
		return nil, fmt.Errorf("decode command: empty entry")
	}
	c := newCommand(CommandType(entry[0]))
	if c == nil {
		if CommandType(entry[0])&IgnoreUnknownTypeFlag != 0 {
			return nil, fmt.Errorf("decode command tag %d: %w", entry[0], ErrIgnored)
		}
		return nil, fmt.Errorf("decode command: unknown tag %d", entry[0])
	}
	if err := json.Unmarshal(entry[1:], c); err != nil {
		return nil, fmt.Errorf("decode %s: %w", CommandType(entry[0]), err)
	}
	return c, nil
}

// newCommand returns an empty command of a type, or nil for a tag this
// version does not know.
func newCommand(t CommandType) Command {
	var c Command
	switch t {
	case CmdRegisterWorker:
		c = &RegisterWorker{}
	case CmdWorkerDown:
		c = &WorkerDown{}
	case CmdSubmitStep:
		c = &SubmitStep{}
	case CmdStartStep:
		c = &StartStep{}
	case CmdAssign:
		c = &Assign{}
	case CmdFinishAttempt:
		c = &FinishAttempt{}
	case CmdCancelStep:
		c = &CancelStep{}
	case CmdFailStep:
		c = &FailStep{}
	case CmdCompleteStep:
		c = &CompleteStep{}
	case CmdStepCleanedUp:
		c = &StepCleanedUp{}
	case CmdRegisterPrimary:
		c = &RegisterPrimary{}
	case CmdRemovePrimary:
		c = &RemovePrimary{}
	case CmdDrainWorker:
		c = &DrainWorker{}
	case CmdKillAttempt:
		c = &KillAttempt{}
	case CmdMapOutputLost:
		c = &MapOutputLost{}
	case CmdAddSplits:
		c = &AddSplits{}
	case CmdPlanStep:
		c = &PlanStep{}
	case CmdDecommissionWorker:
		c = &DecommissionWorker{}
	case CmdFinishDecommission:
		c = &FinishDecommission{}
	case CmdMkdirs:
		c = &Mkdirs{}
	case CmdCreateFile:
		c = &CreateFile{}
	case CmdAddBlock:
		c = &AddBlock{}
	case CmdAbandonBlock:
		c = &AbandonBlock{}
	case CmdCompleteFile:
		c = &CompleteFile{}
	case CmdAbandonFile:
		c = &AbandonFile{}
	case CmdRenewLease:
		c = &RenewLease{}
	case CmdExpireLeases:
		c = &ExpireLeases{}
	case CmdDeletePath:
		c = &DeletePath{}
	case CmdRenamePath:
		c = &RenamePath{}
	case CmdSetReplication:
		c = &SetReplication{}
	case CmdSetSafeMode:
		c = &SetSafeMode{}
	case CmdBatch:
		c = &Batch{}
	case CmdCreateToken:
		c = &CreateToken{}
	case CmdRevokeToken:
		c = &RevokeToken{}
	}
	return c
}
