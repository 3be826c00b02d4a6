package state

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode checks Decode on arbitrary log entries: it never panics; an
// entry it cannot decode gives an error and no command, ErrIgnored only
// for an unknown tag with IgnoreUnknownTypeFlag; a command it decodes
// has the entry's tag, encodes, and its encoding is a fixed point: it
// decodes to an equal command that encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, c := range allCommands() {
		b, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	unknown := byte(unknownTag())
	for _, entry := range [][]byte{
		nil,
		{},
		append([]byte{0}, "{}"...),
		append([]byte{unknown}, "{}"...),
		append([]byte{127}, "{}"...),
		{byte(CmdAssign)},
		append([]byte{byte(CmdSubmitStep)}, "{not json"...),
		append([]byte{byte(CmdCancelStep)}, `{"id": 5}`...),
		append([]byte{byte(CmdCompleteStep)}, `[1]`...),
		append([]byte{byte(CmdFinishAttempt)}, `{"attempt_id":"a","commit":{"b" : [1, 2]},"counters":{"X":1}}`...),
		append([]byte{byte(CmdBatch)}, `{"commands":[{"type":9,"command":{"id":"s"}},{"type":18,"command":{}}]}`...),
		append([]byte{byte(CmdBatch)}, `{"commands":[{"type":7,"command":null}]}`...),
		append([]byte{200}, `{"x":1}`...),
		append([]byte{0x80 | unknown}, "\x00\x01garbage"...),
		append([]byte{byte(IgnoreUnknownTypeFlag | CmdCancelStep)}, `{"id":"s"}`...),
	} {
		f.Add(entry)
	}
	f.Fuzz(func(t *testing.T, entry []byte) {
		c, err := Decode(entry)
		if err != nil {
			if c != nil {
				t.Fatalf("Decode(%q) returned %#v with its error %v", entry, c, err)
			}
			ignorable := len(entry) > 0 && newCommand(CommandType(entry[0])) == nil && CommandType(entry[0])&IgnoreUnknownTypeFlag != 0
			if errors.Is(err, ErrIgnored) != ignorable {
				t.Fatalf("Decode(%q) = %v: ErrIgnored %v, want %v", entry, err, errors.Is(err, ErrIgnored), ignorable)
			}
			return
		}
		if c == nil || c.Type() != CommandType(entry[0]) {
			t.Fatalf("Decode(%q) = %#v, want a command of tag %d", entry, c, entry[0])
		}
		once, err := Encode(c)
		if err != nil {
			t.Fatalf("Decode(%q) = %#v, which does not encode: %v", entry, c, err)
		}
		again, err := Decode(once)
		if err != nil {
			t.Fatalf("Decode(%q) encodes as %q, which does not decode: %v", entry, once, err)
		}
		twice, err := Encode(again)
		if err != nil || !bytes.Equal(twice, once) {
			t.Fatalf("Decode(%q) encodes as %q, which decodes and encodes as %q, %v", entry, once, twice, err)
		}
		if third, err := Decode(twice); err != nil || !reflect.DeepEqual(third, again) {
			t.Fatalf("encoding %q decodes to %#v, then to %#v, %v", once, again, third, err)
		}
	})
}
