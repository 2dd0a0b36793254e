package evidence

import (
	"context"
	"testing"
)

func TestBuildGate(t *testing.T) {
	m := cheatsModule(t)
	ctx := context.Background()

	ok := m.Build(ctx, []string{"./honest", "./app"})
	if ok.Verdict != Pass {
		t.Fatalf("honest build: %s %s\n%s", ok.Verdict, ok.Detail, ok.Log())
	}
	if len(ok.Commands()) != 2 || ok.Commands()[0][1] != "build" || ok.Commands()[1][1] != "vet" {
		t.Errorf("commands = %q, want go build then go vet", ok.Commands())
	}

	bad := m.Build(ctx, []string{"./broken"})
	if bad.Verdict != Fail {
		t.Fatalf("broken build: %s %s", bad.Verdict, bad.Detail)
	}
	mustContain(t, "detail", bad.Detail, "go build failed: broken/broken.go:4")
	mustContain(t, "log", string(bad.Log()), "not an int")
}
