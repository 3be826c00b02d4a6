package streaming

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// DebugLogger is what the package logs commands' stderr lines to, at debug
// level: a *slog.Logger or an hclog.Logger.
type DebugLogger interface {
	Debug(msg string, args ...any)
}

var logger atomic.Pointer[DebugLogger]

// SetLogger sets where commands' stderr lines are logged at debug level
// (slog's default logger until it is called; nil turns logging off).
func SetLogger(l DebugLogger) {
	if l == nil {
		l = nopLogger{}
	}
	logger.Store(&l)
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}

// debugLogger returns the logger if it logs at debug level, else nil.
func debugLogger() DebugLogger {
	var l DebugLogger = slog.Default()
	if p := logger.Load(); p != nil {
		l = *p
	}
	switch d := l.(type) {
	case nopLogger:
		return nil
	case interface{ IsDebug() bool }: // hclog
		if !d.IsDebug() {
			return nil
		}
	case interface {
		Enabled(context.Context, slog.Level) bool
	}:
		if !d.Enabled(context.Background(), slog.LevelDebug) {
			return nil
		}
	}
	return l
}
