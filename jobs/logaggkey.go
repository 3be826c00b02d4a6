package jobs

// AccessLogGrouper computes the group key logagg gives an access-log line,
// with the same parsing and the same key layout as the job's mapper, for
// code that aggregates access logs without the engine (the single-threaded
// baseline of gomr bench).
type AccessLogGrouper struct {
	fields []string
}

// NewAccessLogGrouper takes a value of logagg's --group-by for access logs
// (a comma list of status, method, path, host, minute, hour and day).
func NewAccessLogGrouper(groupBy string) (*AccessLogGrouper, error) {
	fields, err := parseGroupBy(groupBy)
	if err != nil {
		return nil, err
	}
	return &AccessLogGrouper{fields: fields}, nil
}

// AppendKey parses one access-log line (without its line end), appends its
// group key to dst and returns it with the response size in bytes. A line
// logagg would reject gives an error saying what is wrong with it.
func (g *AccessLogGrouper) AppendKey(dst, line []byte) ([]byte, int64, error) {
	e, err := parseAccessLine(line)
	if err != nil {
		return dst, 0, err
	}
	for i, f := range g.fields {
		if i > 0 {
			dst = append(dst, '|')
		}
		dst = appendField(dst, f, &e)
	}
	return dst, e.bytes, nil
}
