package worker

import (
	"fmt"
	"os"
	"time"
)

// audit appends a line to the attempt log, if the worker keeps one:
// "EVENT ATTEMPT WORKER UNIX-NANOS [RESULT]".
func (w *Worker) audit(event, attempt, result string) {
	if w.cfg.AttemptLog == "" {
		return
	}
	line := fmt.Sprintf("%s %s %s %d %s\n", event, attempt, w.cfg.ID, time.Now().UnixNano(), result)
	w.auditMu.Lock()
	defer w.auditMu.Unlock()
	f, err := os.OpenFile(w.cfg.AttemptLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.log.Warn("attempt log", "err", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		w.log.Warn("attempt log", "err", err)
	}
}
