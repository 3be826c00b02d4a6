package faults

import (
	"strings"
	"testing"
	"time"
)

func TestArmParsesAndFires(t *testing.T) {
	t.Cleanup(func() { Arm("", 0) })
	for _, bad := range []struct{ spec, want string }{
		{"nope", "want POINT=ACTION"},
		{"p=explode", `unknown action "explode"`},
		{"p=sleep", "needs a duration"},
		{"p=stall@2:1s", "bad probability"},
		{"p=sleep:soon", "bad duration"},
	} {
		if err := Arm(bad.spec, 1); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Arm(%q) = %v, want an error mentioning %q", bad.spec, err, bad.want)
		}
	}
	if err := Arm("slow=sleep:20ms; slow=sleep:10ms; never=stall@0:1h", 1); err != nil {
		t.Fatal(err)
	}
	if !Armed() {
		t.Fatal("not armed")
	}
	start := time.Now()
	Hit("slow")
	Hit("never")
	Hit("unarmed")
	if d := time.Since(start); d < 30*time.Millisecond || d > time.Second {
		t.Fatalf("hits took %s, want one 30ms sleep", d)
	}
	if err := Arm("", 1); err != nil || Armed() {
		t.Fatalf("disarm: %v, armed %t", err, Armed())
	}
}

func TestProbabilityIsSeeded(t *testing.T) {
	t.Cleanup(func() { Arm("", 0) })
	Arm("p=stall@0.5:1ns", 7)
	first := draws(1000)
	Arm("p=stall@0.5:1ns", 7)
	if second := draws(1000); first != second {
		t.Fatalf("same seed drew %d then %d", first, second)
	}
	if first < 400 || first > 600 {
		t.Fatalf("probability 0.5 fired %d times in 1000", first)
	}
}

// draws counts how often the armed point "p" would fire in n hits.
func draws(n int) int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	a := reg.points["p"][0]
	fired := 0
	for range n {
		if reg.rng.Float64() < a.prob {
			fired++
		}
	}
	return fired
}

func TestFailForAWhile(t *testing.T) {
	t.Cleanup(func() { Arm("", 0) })
	if err := Arm("p=fail:50ms; q=fail", 1); err != nil {
		t.Fatal(err)
	}
	if Err("p") == nil || Err("q") == nil {
		t.Fatal("fail did not fail")
	}
	Hit("p") // a fail action does nothing at Hit
	time.Sleep(60 * time.Millisecond)
	if err := Err("p"); err != nil {
		t.Fatalf("fail:50ms still failing after 60ms: %v", err)
	}
	if Err("q") == nil || Err("unarmed") != nil {
		t.Fatal("fail without a duration stopped, or an unarmed point failed")
	}
}
