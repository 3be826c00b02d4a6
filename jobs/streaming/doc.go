// Package streaming is Hadoop Streaming as a built-in job, "streaming": the
// mapper, combiner and reducer are commands that read lines on stdin and
// write lines on stdout.
//
// # Options
//
//	mapper    command line (required)
//	reducer   command line; "aggregate" (Hadoop's aggregate reducer, in Go);
//	          "NONE" (map-only: the step runs with 0 reducers; IsMapOnly);
//	          empty: the sorted pairs are written as they are
//	combiner  command line; "aggregate"; "NONE"; empty: no combiner, or the
//	          aggregate combiner when the reducer is "aggregate"
//	cmdenv    environment of the commands: a JSON list of "NAME=VALUE"
//	          strings (FormatCmdEnv writes one), or NAME=VALUE lines
//	files     files to place in the commands' working folder: a JSON list
//	          of {"name": NAME, "path": PATH, "mode": "0755"} (FormatFiles),
//	          PATH being the file's local copy on the worker; mode is an
//	          octal string or a number, and when left out the file keeps
//	          PATH's mode
//
// A command line is split into words as a shell would (SplitCommand) but
// runs without one: $VARS, globs, pipes, redirections and ";" are plain
// characters, so a command that needs a shell names it (bash -c '...'). A
// program name with a slash is a path relative to the working folder; a
// plain name is looked up in the working folder first, where shipped files
// are (mapper.py runs a shipped mapper.py, as in Hadoop), then in PATH.
//
// # Data
//
// The mapper reads the split's lines, each ending in "\n", and each line it
// writes is a pair: the key up to the first tab, the value after it; a line
// without a tab is a key with no value, emitted with a nil value so that it
// is written back without a tab. The reducer reads its partition's pairs
// sorted by key, one key<TAB>value line a value (a key of its own with
// each), and notices key changes itself; each line it writes is an output
// line, cut the same way. A combiner command reads a partition's sorted
// pairs the same way, at every spill and at the final merge, and must write
// its pairs in key order; it must read all its input. A mapper or reducer
// that exits with status 0 before reading all its input succeeds; the
// records it did not read are counted in STREAMING_UNREAD_RECORDS (as far as
// known: what was in the pipe is not counted). A trailing "\r" is dropped
// from the lines a command writes.
//
// # Environment
//
// A command runs in the task's working folder with the worker's
// environment, Hadoop's names for the task (mapreduce_job_id and
// mapred_job_id: the step; mapreduce_task_attempt_id and mapred_task_id;
// mapreduce_task_id and mapred_tip_id; mapreduce_task_partition and
// mapred_task_partition; mapreduce_task_ismap; mapreduce_job_reduces;
// and for a map task mapreduce_map_input_file, map_input_file,
// mapreduce_map_input_start and mapreduce_map_input_length), then the
// cmdenv pairs, which win.
//
// # Stderr
//
// A line reporter:counter:GROUP,NAME,N adds N to the task's counter
// GROUP.NAME (three comma-separated fields, GROUP and NAME not empty, N an
// integer; otherwise the line is an ordinary one), and reporter:status:MSG
// sets the task's status line. Every other line goes to ROLE.stderr
// (mapper.stderr, ...) in the attempt's log folder (TaskInfo.LogDir, kept
// after the task ends; the working folder when there is none; 16 MiB at
// most), to the logger set with SetLogger at debug level, and to the last
// 64 KiB kept for errors: a command that exits with a status other than 0, or is killed by
// a signal, fails its task with an error that names it, says how it ended
// and quotes the last lines of its stderr.
//
// # Processes
//
// Each command leads a process group of its own. When it exits, what it
// left in its group is killed; when its task's context is done (see
// below), or the task fails in this package, the whole group gets SIGTERM
// and, after a short grace, SIGKILL, and every goroutine serving it ends.
// The task's goroutine never blocks on a command without watching its
// context: a feeder goroutine writes stdin, a reader goroutine reads
// stdout, and the task's goroutine hands over batches of lines and emits
// the pairs read, emitting while it waits, so neither side can deadlock.
//
// The task's context is taken from the TaskContext when it has a
// Context() context.Context method. Without one, a command is also killed
// when a new task of the same job starts, or when its job is garbage
// collected (the engine calls no Cleanup for a task that failed in it).
//
// # Aggregate
//
// The aggregate reducer is Hadoop's ValueAggregatorReducer: keys are
// TYPE:ID, and for each the reducer writes ID<TAB>result. The types are
// LongValueSum, LongValueMax, LongValueMin, DoubleValueSum (written as
// Java writes a double), StringValueMax, StringValueMin (byte order),
// UniqValueCount and ValueHistogram (values ITEM or ITEM<TAB>COUNT; the
// result is the number of items, then the minimum, median and maximum of
// their counts, their average and standard deviation). The aggregate
// combiner is valid for all of them.
package streaming
